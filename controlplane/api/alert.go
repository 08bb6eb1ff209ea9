package api

import (
	"context"
	"time"

	"github.com/dspyfleet/dspyfleet/controlplane/alerts"
	"github.com/dspyfleet/dspyfleet/controlplane/check"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// alertService implements AlertService on the alerter. ListRules, TestRule, ListAlerts,
// ListSilences, ListEvents and ListDeliveries only read; SetRule, DeleteRule, CreateSilence and
// DeleteSilence change state.
type alertService struct {
	fleetv1.UnimplementedAlertServiceServer
	a   *alerts.Alerter
	now func() time.Time
}

// maxList bounds the events and deliveries one call lists.
const maxList = 1000

// ListRules returns every stored rule by name.
func (s *alertService) ListRules(context.Context, *fleetv1.ListRulesRequest) (*fleetv1.ListRulesResponse, error) {
	return &fleetv1.ListRulesResponse{Rules: s.a.Rules()}, nil
}

// SetRule compiles the rule and stores it; nothing is stored when it does not compile.
func (s *alertService) SetRule(_ context.Context, req *fleetv1.SetRuleRequest) (*fleetv1.SetRuleResponse, error) {
	if req.GetRule() == nil {
		return nil, check.ToStatus(check.Invalidf("rule: is missing"))
	}
	p, err := s.a.SetRule(req.GetRule())
	if err != nil {
		return nil, check.ToStatus(err)
	}
	return &fleetv1.SetRuleResponse{Rule: p}, nil
}

// DeleteRule deletes a rule; its alerts resolve at the next evaluation.
func (s *alertService) DeleteRule(_ context.Context, req *fleetv1.DeleteRuleRequest) (*fleetv1.DeleteRuleResponse, error) {
	if err := s.a.DeleteRule(req.GetName()); err != nil {
		return nil, check.ToStatus(err)
	}
	return &fleetv1.DeleteRuleResponse{}, nil
}

// TestRule evaluates a rule on the current snapshot and changes nothing.
func (s *alertService) TestRule(_ context.Context, req *fleetv1.TestRuleRequest) (*fleetv1.TestRuleResponse, error) {
	p := req.GetRule()
	if p == nil {
		if p = s.a.Rule(req.GetName()); p == nil {
			return nil, check.ToStatus(check.Invalidf("rule: give a rule, or the name of a stored rule (%q is not one)", check.Truncate(req.GetName())))
		}
	}
	results, err := s.a.Test(p, s.now())
	if err != nil {
		return nil, check.ToStatus(err)
	}
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
	return &fleetv1.ListAlertsResponse{Alerts: s.a.ListAlerts(req.GetStates())}, nil
}

// CreateSilence validates and stores a silence with a new id.
func (s *alertService) CreateSilence(_ context.Context, req *fleetv1.CreateSilenceRequest) (*fleetv1.CreateSilenceResponse, error) {
	if req.GetSilence() == nil {
		return nil, check.ToStatus(check.Invalidf("silence: is missing"))
	}
	p, err := s.a.CreateSilence(req.GetSilence())
	if err != nil {
		return nil, check.ToStatus(err)
	}
	return &fleetv1.CreateSilenceResponse{Silence: p}, nil
}

// ListSilences returns the silences by start time.
func (s *alertService) ListSilences(_ context.Context, req *fleetv1.ListSilencesRequest) (*fleetv1.ListSilencesResponse, error) {
	return &fleetv1.ListSilencesResponse{Silences: s.a.ListSilences(req.GetIncludeExpired(), s.now())}, nil
}

// DeleteSilence deletes a silence.
func (s *alertService) DeleteSilence(_ context.Context, req *fleetv1.DeleteSilenceRequest) (*fleetv1.DeleteSilenceResponse, error) {
	if err := s.a.DeleteSilence(req.GetId()); err != nil {
		return nil, check.ToStatus(err)
	}
	return &fleetv1.DeleteSilenceResponse{}, nil
}

// ListEvents returns the newest alert and healing events.
func (s *alertService) ListEvents(_ context.Context, req *fleetv1.AlertServiceListEventsRequest) (*fleetv1.AlertServiceListEventsResponse, error) {
	evs, err := s.a.Events(listLimit(req.GetLimit()))
	if err != nil {
		return nil, check.ToStatus(err)
	}
	return &fleetv1.AlertServiceListEventsResponse{Events: evs}, nil
}

// ListDeliveries returns the newest notification deliveries.
func (s *alertService) ListDeliveries(_ context.Context, req *fleetv1.ListDeliveriesRequest) (*fleetv1.ListDeliveriesResponse, error) {
	ds, err := s.a.Deliveries(listLimit(req.GetLimit()), req.GetFailedOnly())
	if err != nil {
		return nil, check.ToStatus(err)
	}
	return &fleetv1.ListDeliveriesResponse{Deliveries: ds}, nil
}

// listLimit is the number of records a list call returns: 100 unless asked, at most maxList.
func listLimit(n uint32) int {
	if n == 0 {
		return 100
	}
	return min(int(n), maxList)
}
