package controlplane

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// decisionRetention is how long recorded scaling decisions are kept.
const decisionRetention = 7 * 24 * time.Hour

// loadScalingPolicies reads every stored scaling policy by pool.
func (s *store) loadScalingPolicies() (map[string]*fleetv1.ScalingPolicy, error) {
	out := make(map[string]*fleetv1.ScalingPolicy)
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketScalingPolicies).ForEach(func(k, v []byte) error {
			p := &fleetv1.ScalingPolicy{}
			if err := proto.Unmarshal(v, p); err != nil {
				return fmt.Errorf("%w: scaling policy %q: %v", ErrCorruptStore, k, err)
			}
			out[string(k)] = p
			return nil
		})
	})
	return out, err
}

// putScalingPolicy stores one pool's policy.
func (s *store) putScalingPolicy(pool string, p *fleetv1.ScalingPolicy) error {
	b, err := proto.Marshal(p)
	if err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketScalingPolicies).Put([]byte(pool), b)
	})
}

// deleteScalingPolicy removes one pool's policy and the scaler's memory of it; its decisions
// stay for the history.
func (s *store) deleteScalingPolicy(pool string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketScalingMemory).Delete([]byte(pool)); err != nil {
			return err
		}
		return tx.Bucket(bucketScalingPolicies).Delete([]byte(pool))
	})
}

// decisionKey is <pool>0x00<8-byte big-endian unix nanos>.
func decisionKey(pool string, t time.Time) []byte {
	k := append([]byte(pool), 0)
	return binary.BigEndian.AppendUint64(k, uint64(t.UnixNano()))
}

// recordScaling appends decisions of pools and stores the scaler's changed memories in one
// transaction, and deletes each pool's decisions older than the retention.
func (s *store) recordScaling(ds map[string][]*fleetv1.ScalingDecision, memory map[string][]byte, now time.Time) error {
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
	return s.db.Update(func(tx *bolt.Tx) error {
		mb := tx.Bucket(bucketScalingMemory)
		for pool, m := range memory {
			if err := mb.Put([]byte(pool), m); err != nil {
				return err
			}
		}
		b := tx.Bucket(bucketScalingDecisions)
		for k, v := range enc {
			if err := b.Put([]byte(k), v); err != nil {
				return err
			}
		}
		for pool := range ds {
			prefix := append([]byte(pool), 0)
			cutoff := decisionKey(pool, now.Add(-decisionRetention))
			c := b.Cursor()
			for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && bytes.Compare(k, cutoff) < 0; k, _ = c.Next() {
				if err := c.Delete(); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// listScalingDecisions returns up to limit of the pool's decisions, newest first.
func (s *store) listScalingDecisions(pool string, limit int) ([]*fleetv1.ScalingDecision, error) {
	var out []*fleetv1.ScalingDecision
	prefix := append([]byte(pool), 0)
	end := append([]byte(pool), 1)
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketScalingDecisions).Cursor()
		k, v := c.Seek(end)
		if k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
		for ; k != nil && bytes.HasPrefix(k, prefix) && len(out) < limit; k, v = c.Prev() {
			d := &fleetv1.ScalingDecision{}
			if err := proto.Unmarshal(v, d); err != nil {
				return fmt.Errorf("%w: scaling decision %x: %v", ErrCorruptStore, k, err)
			}
			out = append(out, d)
		}
		return nil
	})
	return out, err
}
