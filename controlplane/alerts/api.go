package alerts

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/dspyfleet/dspyfleet/controlplane/check"
	"github.com/dspyfleet/dspyfleet/controlplane/store"
	"github.com/dspyfleet/dspyfleet/pkg/rules"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// Bounds of the stored rules and silences.
const (
	maxRules    = 1000
	maxSilences = 1000
)

// The calls below are what AlertService asks of the alerter. A call that changes rules or
// silences holds apiMu, which orders such calls, while it writes the store, and takes mu only to
// change memory afterwards: an evaluation is never kept waiting for an API call's fsync.

// Rules returns every stored rule by name.
func (a *Alerter) Rules() []*fleetv1.AlertRule {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]*fleetv1.AlertRule, 0, len(a.stored))
	for _, name := range slices.Sorted(maps.Keys(a.stored)) {
		out = append(out, proto.Clone(a.stored[name]).(*fleetv1.AlertRule))
	}
	return out
}

// ruleRetry is how to retry a change to rule name that lost to another.
func ruleRetry(name string) string {
	return fmt.Sprintf("read the rule again (fleetctl alerts rules), redo the change on it and send it with its new etag (--etag); rule %s", name)
}

// Rule returns the stored rule of that name, or nil.
func (a *Alerter) Rule(name string) *fleetv1.AlertRule {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.stored[name]
}

// SetRule compiles p and stores it; nothing is stored when it does not compile, or when etag is
// set and is not the stored rule's (a *check.ConflictError).
func (a *Alerter) SetRule(p *fleetv1.AlertRule, etag string) (*fleetv1.AlertRule, error) {
	c, err := a.compile(p)
	if err != nil {
		return nil, err
	}
	p = ruleToProto(c.Rule)
	a.apiMu.Lock()
	defer a.apiMu.Unlock()
	a.mu.Lock()
	old, exists := a.stored[p.GetName()]
	n := len(a.stored)
	a.mu.Unlock()
	if err := check.IfEtag(etag, old, "rule "+p.GetName(), ruleRetry(p.GetName())); err != nil {
		return nil, err
	}
	if !exists && n >= maxRules {
		return nil, fmt.Errorf("%w: %d rules are stored, the most allowed; delete one first", check.ErrFailedPrecondition, maxRules)
	}
	if err := putProto(a.store, store.AlertRules, p.GetName(), p); err != nil {
		return nil, fmt.Errorf("store rule: %w", err)
	}
	a.mu.Lock()
	a.stored[p.GetName()] = p
	a.compiled[p.GetName()] = c
	a.mu.Unlock()
	return proto.Clone(p).(*fleetv1.AlertRule), nil
}

// DeleteRule deletes a rule; its alerts resolve at the next evaluation. When etag is set and
// is not the stored rule's, nothing is deleted and the error is a *check.ConflictError.
func (a *Alerter) DeleteRule(name, etag string) error {
	a.apiMu.Lock()
	defer a.apiMu.Unlock()
	old := a.Rule(name)
	if old == nil {
		return fmt.Errorf("%w: no rule named %q; list rules with fleetctl alerts rules", check.ErrAlertNotFound, check.Truncate(name))
	}
	if err := check.IfEtag(etag, old, "rule "+name, ruleRetry(name)); err != nil {
		return err
	}
	if err := putProto(a.store, store.AlertRules, name, nil); err != nil {
		return fmt.Errorf("delete rule: %w", err)
	}
	a.mu.Lock()
	delete(a.stored, name)
	delete(a.compiled, name)
	a.mu.Unlock()
	return nil
}

// Test evaluates p on the fleet as it is at now and changes nothing.
func (a *Alerter) Test(p *fleetv1.AlertRule, now time.Time) ([]rules.TestResult, error) {
	c, err := a.compile(p)
	if err != nil {
		return nil, err
	}
	snap, err := a.snapshot(now)
	if err != nil {
		return nil, err
	}
	a.blMu.RLock()
	defer a.blMu.RUnlock()
	return rules.Test(c, snap, a.baselines, now, rules.DefaultBaselineOptions()), nil
}

// ListAlerts returns the alerts in states (every state when empty), firing first, then pending,
// then resolved.
func (a *Alerter) ListAlerts(states []fleetv1.AlertState) []*fleetv1.Alert {
	a.mu.Lock()
	var out []*fleetv1.Alert
	for _, x := range a.alerts {
		p := alertToProto(x)
		if len(states) == 0 || slices.Contains(states, p.GetState()) {
			out = append(out, p)
		}
	}
	a.mu.Unlock()
	rank := map[fleetv1.AlertState]int{fleetv1.AlertState_ALERT_STATE_FIRING: 0, fleetv1.AlertState_ALERT_STATE_PENDING: 1, fleetv1.AlertState_ALERT_STATE_RESOLVED: 2}
	slices.SortFunc(out, func(x, y *fleetv1.Alert) int {
		return cmp.Or(cmp.Compare(rank[x.GetState()], rank[y.GetState()]), cmp.Compare(x.GetRule(), y.GetRule()), cmp.Compare(x.GetTarget(), y.GetTarget()))
	})
	return out
}

// CreateSilence validates p and stores it with a new id.
func (a *Alerter) CreateSilence(p *fleetv1.Silence) (*fleetv1.Silence, error) {
	p = proto.Clone(p).(*fleetv1.Silence)
	p.Etag = ""
	if err := rules.ValidateSilence(silenceFromProto(p)); err != nil {
		return nil, check.Invalidf("silence: %v", err)
	}
	var id [8]byte
	_, _ = rand.Read(id[:])
	p.Id = hex.EncodeToString(id[:])
	a.apiMu.Lock()
	defer a.apiMu.Unlock()
	a.mu.Lock()
	n := len(a.silences)
	a.mu.Unlock()
	if n >= maxSilences {
		return nil, fmt.Errorf("%w: %d silences are stored, the most allowed; delete one first", check.ErrFailedPrecondition, maxSilences)
	}
	if err := putProto(a.store, store.Silences, p.GetId(), p); err != nil {
		return nil, fmt.Errorf("store silence: %w", err)
	}
	a.mu.Lock()
	a.silences[p.GetId()] = p
	a.mu.Unlock()
	return proto.Clone(p).(*fleetv1.Silence), nil
}

// ListSilences returns the silences by start time, those ended before now only with expired.
func (a *Alerter) ListSilences(expired bool, now time.Time) []*fleetv1.Silence {
	a.mu.Lock()
	var out []*fleetv1.Silence
	for _, x := range a.silences {
		if expired || x.GetEnd().AsTime().After(now) {
			out = append(out, proto.Clone(x).(*fleetv1.Silence))
		}
	}
	a.mu.Unlock()
	slices.SortFunc(out, func(x, y *fleetv1.Silence) int {
		return cmp.Or(x.GetStart().AsTime().Compare(y.GetStart().AsTime()), cmp.Compare(x.GetId(), y.GetId()))
	})
	return out
}

// DeleteSilence deletes a silence. When etag is set and is not the stored silence's, nothing is
// deleted and the error is a *check.ConflictError.
func (a *Alerter) DeleteSilence(id, etag string) error {
	a.apiMu.Lock()
	defer a.apiMu.Unlock()
	a.mu.Lock()
	old, ok := a.silences[id]
	a.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: no silence %q; list silences with fleetctl alerts silence list", check.ErrAlertNotFound, check.Truncate(id))
	}
	if err := check.IfEtag(etag, old, "silence "+id, "list the silences again (fleetctl alerts silence list) and delete with the new etag (--etag)"); err != nil {
		return err
	}
	if err := a.removeSilenceLocked(id); err != nil {
		return fmt.Errorf("delete silence: %w", err)
	}
	return nil
}

// removeSilenceLocked deletes silence id from the store, then from memory; apiMu is held.
func (a *Alerter) removeSilenceLocked(id string) error {
	if err := putProto(a.store, store.Silences, id, nil); err != nil {
		return err
	}
	a.mu.Lock()
	delete(a.silences, id)
	a.mu.Unlock()
	return nil
}

// Events returns up to limit alert and healing events, newest first from the newest stored
// before the key before (nil: from the newest), the last one's key, and whether more follow.
func (a *Alerter) Events(before []byte, limit int) ([]*fleetv1.AlertEvent, []byte, bool, error) {
	return listNewest(a.store, store.AlertEvents, before, limit,
		func() *fleetv1.AlertEvent { return &fleetv1.AlertEvent{} }, func(*fleetv1.AlertEvent) bool { return true })
}

// Deliveries returns up to limit notification deliveries (the failed ones only with
// failedOnly), newest first from the newest stored before the key before (nil: from the
// newest), the last one's key, and whether more follow.
func (a *Alerter) Deliveries(before []byte, limit int, failedOnly bool) ([]*fleetv1.Delivery, []byte, bool, error) {
	return listNewest(a.store, store.Deliveries, before, limit,
		func() *fleetv1.Delivery { return &fleetv1.Delivery{} }, func(d *fleetv1.Delivery) bool { return !failedOnly || !d.GetDelivered() })
}
