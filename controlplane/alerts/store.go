package alerts

import (
	"encoding/json"
	"fmt"
	"slices"

	"google.golang.org/protobuf/proto"

	"github.com/dspyfleet/dspyfleet/controlplane/commands"
	"github.com/dspyfleet/dspyfleet/controlplane/store"
	"github.com/dspyfleet/dspyfleet/pkg/rules"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// alertsState is everything the alerter keeps in bbolt, as read at start-up.
type alertsState struct {
	rules      []*fleetv1.AlertRule
	seeded     bool
	alerts     []*fleetv1.Alert
	silences   []*fleetv1.Silence
	executions []*fleetv1.HealingExecution
	events     int
	deliveries int
}

// loadAlerts reads the rules, alert states, silences and healing executions.
func loadAlerts(s *store.Store) (*alertsState, error) {
	st := &alertsState{}
	err := s.View(func(tx *store.Tx) error {
		st.seeded = tx.Bucket(store.Meta).Get(store.KeyAlertRulesSeeded) != nil
		st.events = tx.Bucket(store.AlertEvents).Len()
		st.deliveries = tx.Bucket(store.Deliveries).Len()
		if err := store.EachProto(tx.Bucket(store.AlertRules), "alert rule", store.Collect(&st.rules)); err != nil {
			return err
		}
		if err := store.EachProto(tx.Bucket(store.AlertStates), "alert", store.Collect(&st.alerts)); err != nil {
			return err
		}
		if err := store.EachProto(tx.Bucket(store.Silences), "silence", store.Collect(&st.silences)); err != nil {
			return err
		}
		return store.EachProto(tx.Bucket(store.HealingExecutions), "healing execution", store.Collect(&st.executions))
	})
	return st, err
}

// seedRules stores the default rules once, in the first start of a new data file.
func seedRules(s *store.Store, defaults []*fleetv1.AlertRule) error {
	return s.Update(func(tx *store.Tx) error {
		b := tx.Bucket(store.AlertRules)
		for _, r := range defaults {
			v, err := proto.Marshal(r)
			if err != nil {
				return err
			}
			if err := b.Put([]byte(r.GetName()), v); err != nil {
				return err
			}
		}
		return tx.Bucket(store.Meta).Put(store.KeyAlertRulesSeeded, []byte{1})
	})
}

// putProto writes one record; v nil deletes it.
func putProto(s *store.Store, bucket []byte, key string, v proto.Message) error {
	return s.Update(func(tx *store.Tx) error {
		if v == nil {
			return tx.Bucket(bucket).Delete([]byte(key))
		}
		b, err := proto.Marshal(v)
		if err != nil {
			return err
		}
		return tx.Bucket(bucket).Put([]byte(key), b)
	})
}

// alertsWrite is one evaluation's changes, written in one transaction.
type alertsWrite struct {
	alerts     map[string]*fleetv1.Alert // nil value: delete
	replaceAll bool                      // alerts holds every state: drop the others
	executions map[string]*fleetv1.HealingExecution
	events     []*fleetv1.AlertEvent
	maxEvents  int
}

// writeAlerts applies w in one transaction and returns how many events the bucket holds.
func writeAlerts(s *store.Store, w alertsWrite) (int, error) {
	var n int
	err := s.Update(func(tx *store.Tx) error {
		states := tx.Bucket(store.AlertStates)
		if w.replaceAll {
			if err := states.DeleteFunc(func(k []byte) bool { _, keep := w.alerts[string(k)]; return !keep }); err != nil {
				return err
			}
		}
		for k, a := range w.alerts {
			if a == nil {
				if err := states.Delete([]byte(k)); err != nil {
					return err
				}
				continue
			}
			if err := putMsg(states, []byte(k), a); err != nil {
				return err
			}
		}
		execs := tx.Bucket(store.HealingExecutions)
		for id, x := range w.executions {
			if x == nil {
				if err := execs.Delete([]byte(id)); err != nil {
					return err
				}
				continue
			}
			if err := putMsg(execs, []byte(id), x); err != nil {
				return err
			}
		}
		var err error
		n, err = appendBounded(tx.Bucket(store.AlertEvents), w.events, w.maxEvents, func(e *fleetv1.AlertEvent) []byte {
			return commands.NewKey(e.GetTime().AsTime())
		})
		return err
	})
	return n, err
}

// appendDelivery records one delivery, keeping at most maxN.
func appendDelivery(s *store.Store, d *fleetv1.Delivery, key []byte, maxN int) error {
	return s.Update(func(tx *store.Tx) error {
		_, err := appendBounded(tx.Bucket(store.Deliveries), []*fleetv1.Delivery{d}, maxN, func(*fleetv1.Delivery) []byte { return key })
		return err
	})
}

func putMsg(b *store.Bucket, k []byte, m proto.Message) error {
	v, err := proto.Marshal(m)
	if err != nil {
		return err
	}
	return b.Put(k, v)
}

// appendBounded adds msgs under time-ordered keys and deletes the oldest past maxN.
func appendBounded[M proto.Message](b *store.Bucket, msgs []M, maxN int, key func(M) []byte) (int, error) {
	for _, m := range msgs {
		if err := putMsg(b, key(m), m); err != nil {
			return 0, err
		}
	}
	n := b.Len()
	if n <= maxN {
		return n, nil
	}
	return maxN, b.DeleteFirst(n - maxN)
}

// listNewest returns up to limit records of a time-ordered bucket that keep accepts, newest
// first from the newest record stored before the key before (from the newest with nil), the
// key of the last one returned, and whether more follow: one page of a stored list.
func listNewest[M proto.Message](s *store.Store, bucket, before []byte, limit int, mk func() M, keep func(M) bool) ([]M, []byte, bool, error) {
	var out []M
	var last []byte
	more := false
	err := s.View(func(tx *store.Tx) error {
		c := tx.Bucket(bucket).Cursor()
		k, v := c.Last()
		if before != nil {
			if k, v = c.Seek(before); k == nil {
				k, v = c.Last()
			} else {
				k, v = c.Prev()
			}
		}
		for ; k != nil; k, v = c.Prev() {
			m := mk()
			if err := proto.Unmarshal(v, m); err != nil {
				return fmt.Errorf("%w: %s %x: %v", store.ErrCorruptStore, bucket, k, err)
			}
			if !keep(m) {
				continue
			}
			if len(out) == limit {
				more = true
				return nil
			}
			out = append(out, m)
			last = slices.Clone(k)
		}
		return nil
	})
	return out, last, more, err
}

// defaultRuleProtos are the shipped rules in API form.
func defaultRuleProtos() []*fleetv1.AlertRule {
	var out []*fleetv1.AlertRule
	for _, r := range rules.Defaults() {
		out = append(out, ruleToProto(r))
	}
	return out
}

// loadBaselines reads the stored baselines.
func loadBaselines(s *store.Store) (rules.Baselines, error) {
	bl := rules.Baselines{}
	err := s.View(func(tx *store.Tx) error {
		return tx.Bucket(store.Baselines).ForEach(func(k, v []byte) error {
			m := map[string]rules.Baseline{}
			if err := json.Unmarshal(v, &m); err != nil {
				return fmt.Errorf("%w: baselines of %q: %v", store.ErrCorruptStore, k, err)
			}
			bl[string(k)] = m
			return nil
		})
	})
	return bl, err
}

// saveBaselines replaces the stored baselines with bl in one transaction.
func saveBaselines(s *store.Store, bl rules.Baselines) error {
	enc := make(map[string][]byte, len(bl))
	for target, m := range bl {
		b, err := json.Marshal(m)
		if err != nil {
			return err
		}
		enc[target] = b
	}
	return s.Update(func(tx *store.Tx) error {
		b, err := tx.Clear(store.Baselines)
		if err != nil {
			return err
		}
		for target, v := range enc {
			if err := b.Put([]byte(target), v); err != nil {
				return err
			}
		}
		return nil
	})
}
