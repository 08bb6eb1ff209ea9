package stats

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/dspyfleet/dspyfleet/controlplane/store"
	"github.com/dspyfleet/dspyfleet/internal/wire"
	"github.com/dspyfleet/dspyfleet/pkg/reqstats"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
	"google.golang.org/protobuf/proto"
)

// EachRollupBetween calls fn with every node's rollup of the minutes in [first, last] (unix
// minutes): from memory for minutes from memFrom on, from bbolt before. Memory holds every
// minute since the process started and within memoryMinutes, so the caller passes the later of
// the two. It takes the minutes by reference under the lock and calls fn after releasing it, so
// a reader that visits 100,000 rollups every step neither holds reports up nor copies them into
// a map of its own. fn must not keep a window's sketches past the call unless it only reads them.
func (s *Requests) EachRollupBetween(first, last, memFrom int64, fn func(RollupKey, reqstats.Window)) error {
	type held struct {
		minute int64
		pool   string
		pm     *poolMinute
	}
	var hs []held
	s.mu.Lock()
	for m, pools := range s.minutes {
		if m >= max(first, memFrom) && m <= last {
			for pool, pm := range pools {
				pm.shared = true
				hs = append(hs, held{m, pool, pm})
			}
		}
	}
	s.mu.Unlock()
	for _, h := range hs {
		for node, w := range h.pm.nodes {
			fn(RollupKey{Minute: h.minute, Pool: h.pool, Node: node}, w)
		}
	}
	if first >= memFrom {
		return nil
	}
	return s.scanStored(first, min(memFrom, last+1), "", fn)
}

// scanStored calls fn with every stored rollup of the minutes in [first, until), in time order;
// of pool's nodes only, unless pool is "". A rollup is decoded only when fn gets it.
func (s *Requests) scanStored(first, until int64, pool string, fn func(RollupKey, reqstats.Window)) error {
	return s.store.View(func(tx *store.Tx) error {
		c := tx.Bucket(store.Rollups).Cursor()
		for k, v := c.Seek(binary.BigEndian.AppendUint64(nil, uint64(first))); k != nil; k, v = c.Next() {
			key, ok := decodeRollupKey(k)
			if !ok || key.Minute >= until {
				break
			}
			if pool != "" && key.Pool != pool {
				continue
			}
			app := &fleetv1.AppMetrics{}
			if err := proto.Unmarshal(v, app); err != nil {
				return fmt.Errorf("%w: rollup %x: %v", store.ErrCorruptStore, k, err)
			}
			start := time.Unix(key.Minute*60, 0)
			w, err := wire.WindowFromApp(app, start, start.Add(time.Minute))
			if err != nil {
				return fmt.Errorf("%w: rollup %x: %v", store.ErrCorruptStore, k, err)
			}
			fn(key, w)
		}
		return nil
	})
}
