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

// RollupsBetween returns every node's rollup of the minutes in [first, last] (unix minutes):
// from memory for minutes from memFrom on, from bbolt before. Memory holds every minute since
// the process started and within memoryMinutes, so the caller passes the later of the two.
func (s *Requests) RollupsBetween(first, last, memFrom int64) (map[RollupKey]reqstats.Window, error) {
	out := make(map[RollupKey]reqstats.Window)
	s.mu.Lock()
	for k, w := range s.minutes {
		if k.Minute >= max(first, memFrom) && k.Minute <= last {
			out[k] = w
		}
	}
	s.mu.Unlock()
	memFirst := memFrom
	if first >= memFirst {
		return out, nil
	}
	err := s.store.View(func(tx *store.Tx) error {
		c := tx.Bucket(store.Rollups).Cursor()
		for k, v := c.Seek(binary.BigEndian.AppendUint64(nil, uint64(first))); k != nil; k, v = c.Next() {
			key, ok := decodeRollupKey(k)
			if !ok || key.Minute >= memFirst || key.Minute > last {
				break
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
			out[key] = w
		}
		return nil
	})
	return out, err
}
