package cost

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/dspyfleet/dspyfleet/controlplane/fleet"
	"github.com/dspyfleet/dspyfleet/controlplane/store"
	"github.com/dspyfleet/dspyfleet/pkg/cost"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// usageKey names one node's usage samples of one UTC hour.
type usageKey struct {
	hour int64
	node string
}

// usageHists are CPU and memory percent histograms; dirty ones are written on the next step.
type usageHists struct {
	cpu, mem cost.Histogram
	dirty    bool
	// key and enc are the record's key and last encoding, kept for the next write: bbolt reads
	// them until the step's transaction ends, and the next step, which encodes again into enc,
	// runs after it.
	key, enc []byte
}

// usageLen is the encoded size of usageHists.
const usageLen = 2 * 101 * 4

func (k usageKey) encode() []byte {
	return append(binary.BigEndian.AppendUint64(nil, uint64(k.hour)), k.node...)
}

func encodeUsage(b []byte, u *usageHists) []byte {
	b = b[:0]
	for _, h := range []*cost.Histogram{&u.cpu, &u.mem} {
		for _, n := range h {
			b = binary.BigEndian.AppendUint32(b, n)
		}
	}
	return b
}

func decodeUsage(b []byte) (*usageHists, error) {
	if len(b) != usageLen {
		return nil, fmt.Errorf("%w: usage record of %d bytes", store.ErrCorruptStore, len(b))
	}
	u := &usageHists{}
	for i := range 101 {
		u.cpu[i] = binary.BigEndian.Uint32(b[4*i:])
		u.mem[i] = binary.BigEndian.Uint32(b[4*(101+i):])
	}
	return u, nil
}

// sampleUsage counts a connected node's newest report once in its hour's histograms.
func (c *Tracker) sampleUsage(n *fleetv1.Node, now time.Time) {
	rep := n.GetLastReport()
	if !fleet.Connected(n.GetState()) || rep.GetHost() == nil || rep.GetSeq() == c.lastSeq[n.GetId()] {
		return
	}
	c.lastSeq[n.GetId()] = rep.GetSeq()
	k := usageKey{hour: hourOf(now), node: n.GetId()}
	u := c.usage[k]
	if u == nil {
		u = c.storedUsage(k)
		c.usage[k] = u
	}
	u.cpu.Add(rep.GetHost().GetCpuPercent())
	u.mem.Add(rep.GetHost().GetMemoryUsedPercent())
	u.dirty = true
}

// usageRecord is one node-hour's histograms to write.
type usageRecord struct {
	hour     int64
	node     string
	key, val []byte
}

// dirtyUsage returns the histograms to write, into recs (emptied first), and forgets those of
// past hours.
func (c *Tracker) dirtyUsage(recs []usageRecord) []usageRecord {
	recs = recs[:0]
	var cur int64
	for k := range c.usage {
		cur = max(cur, k.hour)
	}
	for k, u := range c.usage {
		if u.dirty {
			if u.key == nil {
				u.key = k.encode()
			}
			u.enc = encodeUsage(u.enc, u)
			recs = append(recs, usageRecord{k.hour, k.node, u.key, u.enc})
			u.dirty = false
		}
		if k.hour < cur {
			delete(c.usage, k)
		}
	}
	return recs
}

// storedUsage returns the histograms stored for k (written before a restart), or empty ones.
func (c *Tracker) storedUsage(k usageKey) *usageHists {
	u := &usageHists{}
	err := c.store.View(func(tx *store.Tx) error {
		v := tx.Bucket(store.CostUsage).Get(k.encode())
		if v == nil {
			return nil
		}
		stored, err := decodeUsage(v)
		if err == nil {
			u = stored
		}
		return err
	})
	if err != nil {
		c.log.Warn("stored usage samples unreadable; starting the hour afresh", "node", k.node, "err", err)
	}
	return u
}

// putUsage writes usage records in tx, in key order (an hour's new records append to the
// last page), sorting recs.
func putUsage(tx *store.Tx, recs []usageRecord) error {
	b := tx.Bucket(store.CostUsage)
	slices.SortFunc(recs, func(x, y usageRecord) int {
		return cmp.Or(cmp.Compare(x.hour, y.hour), strings.Compare(x.node, y.node))
	})
	for _, r := range recs {
		if err := b.Put(r.key, r.val); err != nil {
			return err
		}
	}
	return nil
}

// loadUsage merges each node's histograms over hours [first, last].
func loadUsage(s *store.Store, first, last int64) (map[string]*usageHists, error) {
	out := map[string]*usageHists{}
	err := s.View(func(tx *store.Tx) error {
		c := tx.Bucket(store.CostUsage).Cursor()
		for k, v := c.Seek(binary.BigEndian.AppendUint64(nil, uint64(first))); k != nil; k, v = c.Next() {
			if len(k) < 8 || int64(binary.BigEndian.Uint64(k)) > last {
				break
			}
			u, err := decodeUsage(v)
			if err != nil {
				return err
			}
			node := string(k[8:])
			if out[node] == nil {
				out[node] = &usageHists{}
			}
			out[node].cpu.Merge(u.cpu)
			out[node].mem.Merge(u.mem)
		}
		return nil
	})
	return out, err
}
