package controlplane

import (
	"cmp"
	"context"
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

// alertService implements AlertService on the alerter. ListRules, TestRule, ListAlerts,
// ListSilences, ListEvents and ListDeliveries only read; SetRule, DeleteRule, CreateSilence and
// DeleteSilence change state.
type alertService struct {
	fleetv1.UnimplementedAlertServiceServer
	a   *alerter
	now func() time.Time
}

// Bounds of the alert service: listed events and deliveries, stored rules and silences.
const (
	maxList     = 1000
	maxRules    = 1000
	maxSilences = 1000
)

// ListRules returns every stored rule by name.
func (s *alertService) ListRules(context.Context, *fleetv1.ListRulesRequest) (*fleetv1.ListRulesResponse, error) {
	s.a.mu.Lock()
	defer s.a.mu.Unlock()
	out := &fleetv1.ListRulesResponse{}
	for _, name := range slices.Sorted(maps.Keys(s.a.stored)) {
		out.Rules = append(out.Rules, proto.Clone(s.a.stored[name]).(*fleetv1.AlertRule))
	}
	return out, nil
}

// SetRule compiles the rule and stores it; nothing is stored when it does not compile.
func (s *alertService) SetRule(_ context.Context, req *fleetv1.SetRuleRequest) (*fleetv1.SetRuleResponse, error) {
	if req.GetRule() == nil {
		return nil, check.ToStatus(check.Invalidf("rule is required"))
	}
	c, err := s.a.compile(req.GetRule())
	if err != nil {
		return nil, check.ToStatus(err)
	}
	p := ruleToProto(c.Rule)
	s.a.mu.Lock()
	defer s.a.mu.Unlock()
	if _, exists := s.a.stored[p.GetName()]; !exists && len(s.a.stored) >= maxRules {
		return nil, check.ToStatus(fmt.Errorf("%w: %d rules are stored, the most allowed; delete one first", check.ErrFailedPrecondition, maxRules))
	}
	if err := putProto(s.a.store, store.AlertRules, p.GetName(), p); err != nil {
		return nil, check.ToStatus(fmt.Errorf("store rule: %w", err))
	}
	s.a.stored[p.GetName()] = p
	s.a.compiled[p.GetName()] = c
	return &fleetv1.SetRuleResponse{Rule: proto.Clone(p).(*fleetv1.AlertRule)}, nil
}

// DeleteRule deletes a rule; its alerts resolve at the next evaluation.
func (s *alertService) DeleteRule(_ context.Context, req *fleetv1.DeleteRuleRequest) (*fleetv1.DeleteRuleResponse, error) {
	s.a.mu.Lock()
	defer s.a.mu.Unlock()
	if _, ok := s.a.stored[req.GetName()]; !ok {
		return nil, check.ToStatus(fmt.Errorf("%w: no rule named %q; list rules with fleetctl alerts rules", check.ErrAlertNotFound, check.Truncate(req.GetName())))
	}
	if err := putProto(s.a.store, store.AlertRules, req.GetName(), nil); err != nil {
		return nil, check.ToStatus(fmt.Errorf("delete rule: %w", err))
	}
	delete(s.a.stored, req.GetName())
	delete(s.a.compiled, req.GetName())
	return &fleetv1.DeleteRuleResponse{}, nil
}

// TestRule evaluates a rule on the current snapshot and changes nothing.
func (s *alertService) TestRule(_ context.Context, req *fleetv1.TestRuleRequest) (*fleetv1.TestRuleResponse, error) {
	p := req.GetRule()
	if p == nil {
		s.a.mu.Lock()
		p = s.a.stored[req.GetName()]
		s.a.mu.Unlock()
		if p == nil {
			return nil, check.ToStatus(check.Invalidf("give a rule, or the name of a stored rule (%q is not one)", check.Truncate(req.GetName())))
		}
	}
	c, err := s.a.compile(p)
	if err != nil {
		return nil, check.ToStatus(err)
	}
	now := s.now()
	snap, err := s.a.snapshot(now)
	if err != nil {
		return nil, check.ToStatus(err)
	}
	s.a.mu.Lock()
	results := rules.Test(c, snap, s.a.baselines, now, rules.DefaultBaselineOptions())
	s.a.mu.Unlock()
	out := &fleetv1.TestRuleResponse{}
	for _, r := range results {
		tr := &fleetv1.RuleTestResult{Target: r.Target, Holds: r.Holds}
		if r.Err != nil {
			tr.Error = r.Err.Error()
		}
		out.Results = append(out.Results, tr)
	}
	return out, nil
}

// ListAlerts returns the alerts, firing first, then pending, then resolved.
func (s *alertService) ListAlerts(_ context.Context, req *fleetv1.ListAlertsRequest) (*fleetv1.ListAlertsResponse, error) {
	for _, st := range req.GetStates() {
		if _, ok := fleetv1.AlertState_name[int32(st)]; !ok || st == fleetv1.AlertState_ALERT_STATE_UNSPECIFIED {
			return nil, check.ToStatus(check.Invalidf("states: %d is not an alert state (pending, firing, resolved)", st))
		}
	}
	s.a.mu.Lock()
	var out []*fleetv1.Alert
	for _, a := range s.a.alerts {
		p := alertToProto(a)
		if len(req.GetStates()) == 0 || slices.Contains(req.GetStates(), p.GetState()) {
			out = append(out, p)
		}
	}
	s.a.mu.Unlock()
	rank := map[fleetv1.AlertState]int{fleetv1.AlertState_ALERT_STATE_FIRING: 0, fleetv1.AlertState_ALERT_STATE_PENDING: 1, fleetv1.AlertState_ALERT_STATE_RESOLVED: 2}
	slices.SortFunc(out, func(x, y *fleetv1.Alert) int {
		return cmp.Or(cmp.Compare(rank[x.GetState()], rank[y.GetState()]), cmp.Compare(x.GetRule(), y.GetRule()), cmp.Compare(x.GetTarget(), y.GetTarget()))
	})
	return &fleetv1.ListAlertsResponse{Alerts: out}, nil
}

// CreateSilence validates and stores a silence with a new id.
func (s *alertService) CreateSilence(_ context.Context, req *fleetv1.CreateSilenceRequest) (*fleetv1.CreateSilenceResponse, error) {
	p := proto.Clone(req.GetSilence()).(*fleetv1.Silence)
	if p == nil {
		return nil, check.ToStatus(check.Invalidf("silence is required"))
	}
	if err := rules.ValidateSilence(silenceFromProto(p)); err != nil {
		return nil, check.ToStatus(check.Invalidf("silence: %v", err))
	}
	var id [8]byte
	_, _ = rand.Read(id[:])
	p.Id = hex.EncodeToString(id[:])
	s.a.mu.Lock()
	defer s.a.mu.Unlock()
	if len(s.a.silences) >= maxSilences {
		return nil, check.ToStatus(fmt.Errorf("%w: %d silences are stored, the most allowed; delete one first", check.ErrFailedPrecondition, maxSilences))
	}
	if err := putProto(s.a.store, store.Silences, p.GetId(), p); err != nil {
		return nil, check.ToStatus(fmt.Errorf("store silence: %w", err))
	}
	s.a.silences[p.GetId()] = p
	return &fleetv1.CreateSilenceResponse{Silence: proto.Clone(p).(*fleetv1.Silence)}, nil
}

// ListSilences returns the silences by start time.
func (s *alertService) ListSilences(_ context.Context, req *fleetv1.ListSilencesRequest) (*fleetv1.ListSilencesResponse, error) {
	now := s.now()
	s.a.mu.Lock()
	var out []*fleetv1.Silence
	for _, x := range s.a.silences {
		if req.GetIncludeExpired() || x.GetEnd().AsTime().After(now) {
			out = append(out, proto.Clone(x).(*fleetv1.Silence))
		}
	}
	s.a.mu.Unlock()
	slices.SortFunc(out, func(x, y *fleetv1.Silence) int {
		return cmp.Or(x.GetStart().AsTime().Compare(y.GetStart().AsTime()), cmp.Compare(x.GetId(), y.GetId()))
	})
	return &fleetv1.ListSilencesResponse{Silences: out}, nil
}

// DeleteSilence deletes a silence.
func (s *alertService) DeleteSilence(_ context.Context, req *fleetv1.DeleteSilenceRequest) (*fleetv1.DeleteSilenceResponse, error) {
	s.a.mu.Lock()
	defer s.a.mu.Unlock()
	if _, ok := s.a.silences[req.GetId()]; !ok {
		return nil, check.ToStatus(fmt.Errorf("%w: no silence %q; list silences with fleetctl alerts silence list", check.ErrAlertNotFound, check.Truncate(req.GetId())))
	}
	if err := putProto(s.a.store, store.Silences, req.GetId(), nil); err != nil {
		return nil, check.ToStatus(fmt.Errorf("delete silence: %w", err))
	}
	delete(s.a.silences, req.GetId())
	return &fleetv1.DeleteSilenceResponse{}, nil
}

// ListEvents returns the newest alert and healing events.
func (s *alertService) ListEvents(_ context.Context, req *fleetv1.AlertServiceListEventsRequest) (*fleetv1.AlertServiceListEventsResponse, error) {
	evs, err := listNewest(s.a.store, store.AlertEvents, listLimit(req.GetLimit()),
		func() *fleetv1.AlertEvent { return &fleetv1.AlertEvent{} }, func(*fleetv1.AlertEvent) bool { return true })
	if err != nil {
		return nil, check.ToStatus(err)
	}
	return &fleetv1.AlertServiceListEventsResponse{Events: evs}, nil
}

// ListDeliveries returns the newest notification deliveries.
func (s *alertService) ListDeliveries(_ context.Context, req *fleetv1.ListDeliveriesRequest) (*fleetv1.ListDeliveriesResponse, error) {
	ds, err := listNewest(s.a.store, store.Deliveries, listLimit(req.GetLimit()),
		func() *fleetv1.Delivery { return &fleetv1.Delivery{} }, func(d *fleetv1.Delivery) bool { return !req.GetFailedOnly() || !d.GetDelivered() })
	if err != nil {
		return nil, check.ToStatus(err)
	}
	return &fleetv1.ListDeliveriesResponse{Deliveries: ds}, nil
}

func listLimit(n uint32) int {
	if n == 0 {
		return 100
	}
	return min(int(n), maxList)
}
