package scaling

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/dspyfleet/dspyfleet/controlplane/store"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// decisionRetention is how long recorded scaling decisions are kept.
const decisionRetention = 7 * 24 * time.Hour

// loadScalingPolicies reads every stored scaling policy by pool.
func loadScalingPolicies(s *store.Store) (map[string]*fleetv1.ScalingPolicy, error) {
	out := make(map[string]*fleetv1.ScalingPolicy)
	err := s.View(func(tx *store.Tx) error {
		return store.EachProto(tx.Bucket(store.ScalingPolicies), "scaling policy", func(k []byte, p *fleetv1.ScalingPolicy) error {
			out[string(k)] = p
			return nil
		})
	})
	return out, err
}

// PutPolicy stores one pool's policy.
func PutPolicy(s *store.Store, pool string, p *fleetv1.ScalingPolicy) error {
	b, err := proto.Marshal(p)
	if err != nil {
		return err
	}
	return s.Update(func(tx *store.Tx) error {
		return tx.Bucket(store.ScalingPolicies).Put([]byte(pool), b)
	})
}

// DeletePolicy removes one pool's policy and the scaler's memory of it; its decisions
// stay for the history.
func DeletePolicy(s *store.Store, pool string) error {
	return s.Update(func(tx *store.Tx) error {
		if err := tx.Bucket(store.ScalingMemory).Delete([]byte(pool)); err != nil {
			return err
		}
		return tx.Bucket(store.ScalingPolicies).Delete([]byte(pool))
	})
}

// decisionKey is <pool>0x00<8-byte big-endian unix nanos>.
func decisionKey(pool string, t time.Time) []byte {
	k := append([]byte(pool), 0)
	return binary.BigEndian.AppendUint64(k, uint64(t.UnixNano()))
}

// recordScaling appends decisions of pools and stores the scaler's changed memories in one
// transaction, and deletes each pool's decisions older than the retention.
func recordScaling(s *store.Store, ds map[string][]*fleetv1.ScalingDecision, memory map[string][]byte, now time.Time) error {
	if len(ds) == 0 && len(memory) == 0 {
		return nil
	}
	enc := make(map[string][]byte)
	for pool, list := range ds {
		for _, d := range list {
			b, err := proto.Marshal(d)
			if err != nil {
				return err
			}
			enc[string(decisionKey(pool, d.GetTime().AsTime()))] = b
		}
	}
	return s.Update(func(tx *store.Tx) error {
		mb := tx.Bucket(store.ScalingMemory)
		for pool, m := range memory {
			if err := mb.Put([]byte(pool), m); err != nil {
				return err
			}
		}
		b := tx.Bucket(store.ScalingDecisions)
		for k, v := range enc {
			if err := b.Put([]byte(k), v); err != nil {
				return err
			}
		}
		for pool := range ds {
			if err := b.DeleteRange(append([]byte(pool), 0), decisionKey(pool, now.Add(-decisionRetention))); err != nil {
				return err
			}
		}
		return nil
	})
}

// ListDecisions returns up to limit of pool's recorded decisions, newest first from the newest
// stored before the key before (nil: from the newest), the last one's key, and whether more
// follow: one page.
func ListDecisions(s *store.Store, pool string, before []byte, limit int) ([]*fleetv1.ScalingDecision, []byte, bool, error) {
	var out []*fleetv1.ScalingDecision
	var last []byte
	more := false
	prefix := append([]byte(pool), 0)
	end := append([]byte(pool), 1)
	if before != nil && bytes.HasPrefix(before, prefix) {
		end = before
	}
	err := s.View(func(tx *store.Tx) error {
		c := tx.Bucket(store.ScalingDecisions).Cursor()
		k, v := c.Seek(end)
		if k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
		for ; k != nil && bytes.HasPrefix(k, prefix); k, v = c.Prev() {
			if len(out) == limit {
				more = true
				return nil
			}
			d := &fleetv1.ScalingDecision{}
			if err := proto.Unmarshal(v, d); err != nil {
				return fmt.Errorf("%w: scaling decision %x: %v", store.ErrCorruptStore, k, err)
			}
			out = append(out, d)
			last = slices.Clone(k)
		}
		return nil
	})
	return out, last, more, err
}
