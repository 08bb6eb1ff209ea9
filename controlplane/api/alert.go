package api

import (
	"cmp"
	"context"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

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

// ListRules returns one page of the stored rules, by name, each with its etag.
func (s *alertService) ListRules(_ context.Context, req *fleetv1.ListRulesRequest) (*fleetv1.ListRulesResponse, error) {
	page, err := parsePage(req, 0, check.DefaultPageSize)
	if err != nil {
		return nil, check.ToStatus(err)
	}
	rules, next := pageOf(page, s.a.Rules(), (*fleetv1.AlertRule).GetName, false)
	for _, r := range rules {
		r.Etag = check.Etag(r)
	}
	return &fleetv1.ListRulesResponse{Rules: rules, NextPageToken: next}, nil
}

// SetRule compiles the rule and stores it; nothing is stored when it does not compile, or when
// the request's etag is not the stored rule's. With an update mask, only the named fields of
// the stored rule change.
func (s *alertService) SetRule(_ context.Context, req *fleetv1.SetRuleRequest) (*fleetv1.SetRuleResponse, error) {
	if req.GetRule() == nil {
		return nil, check.ToStatus(check.Invalidf("rule: is missing"))
	}
	in, etag := req.GetRule(), req.GetEtag()
	if len(req.GetUpdateMask().GetPaths()) > 0 {
		var err error
		if in, etag, err = s.maskedRule(in, req.GetUpdateMask(), etag); err != nil {
			return nil, check.ToStatus(err)
		}
	}
	p, err := s.a.SetRule(in, etag)
	if err != nil {
		return nil, check.ToStatus(err)
	}
	p.Etag = check.Etag(p)
	return &fleetv1.SetRuleResponse{Rule: p}, nil
}

// maskedRule is the stored rule of in's name with the fields mask names taken from in (AIP-134).
// Without an etag from the caller it returns the stored rule's, so a change landing between
// this read and the write fails ABORTED instead of being overwritten.
func (s *alertService) maskedRule(in *fleetv1.AlertRule, mask *fieldmaskpb.FieldMask, etag string) (*fleetv1.AlertRule, string, error) {
	stored := s.a.Rule(in.GetName())
	if stored == nil {
		return nil, "", fmt.Errorf("%w: no rule named %q to update; set the whole rule without update_mask", check.ErrAlertNotFound, check.Truncate(in.GetName()))
	}
	base := proto.CloneOf(stored)
	for i, p := range mask.GetPaths() {
		if p == "name" {
			return nil, "", check.Invalidf("update_mask.paths[%d]: name names the rule; it cannot be updated", i)
		}
	}
	if err := check.ApplyMask(base, in, mask, "update_mask"); err != nil {
		return nil, "", err
	}
	return base, cmp.Or(etag, check.Etag(stored)), nil
}

// DeleteRule deletes a rule; its alerts resolve at the next evaluation.
func (s *alertService) DeleteRule(_ context.Context, req *fleetv1.DeleteRuleRequest) (*fleetv1.DeleteRuleResponse, error) {
	if err := s.a.DeleteRule(req.GetName(), req.GetEtag()); err != nil {
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

// ListAlerts returns one page of the alerts by rule and target.
func (s *alertService) ListAlerts(_ context.Context, req *fleetv1.ListAlertsRequest) (*fleetv1.ListAlertsResponse, error) {
	for _, st := range req.GetStates() {
		if _, ok := fleetv1.AlertState_name[int32(st)]; !ok || st == fleetv1.AlertState_ALERT_STATE_UNSPECIFIED {
			return nil, check.ToStatus(check.Invalidf("states: %d is not an alert state (pending, firing, resolved)", st))
		}
	}
	page, err := parsePage(req, 0, check.DefaultPageSize)
	if err != nil {
		return nil, check.ToStatus(err)
	}
	alerts, next := pageOf(page, s.a.ListAlerts(req.GetStates()), func(a *fleetv1.Alert) string { return a.GetRule() + "\x00" + a.GetTarget() }, false)
	return &fleetv1.ListAlertsResponse{Alerts: alerts, NextPageToken: next}, nil
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
	p.Etag = check.Etag(p)
	return &fleetv1.CreateSilenceResponse{Silence: p}, nil
}

// ListSilences returns one page of the silences by start time, each with its etag.
func (s *alertService) ListSilences(_ context.Context, req *fleetv1.ListSilencesRequest) (*fleetv1.ListSilencesResponse, error) {
	page, err := parsePage(req, 0, check.DefaultPageSize)
	if err != nil {
		return nil, check.ToStatus(err)
	}
	silences, next := pageOf(page, s.a.ListSilences(req.GetIncludeExpired(), s.now()), func(x *fleetv1.Silence) string {
		return timeKey(x.GetStart().AsTime(), x.GetId())
	}, false)
	for _, x := range silences {
		x.Etag = check.Etag(x)
	}
	return &fleetv1.ListSilencesResponse{Silences: silences, NextPageToken: next}, nil
}

// DeleteSilence deletes a silence.
func (s *alertService) DeleteSilence(_ context.Context, req *fleetv1.DeleteSilenceRequest) (*fleetv1.DeleteSilenceResponse, error) {
	if err := s.a.DeleteSilence(req.GetId(), req.GetEtag()); err != nil {
		return nil, check.ToStatus(err)
	}
	return &fleetv1.DeleteSilenceResponse{}, nil
}

// ListEvents returns one page of the alert and healing events, newest first.
func (s *alertService) ListEvents(_ context.Context, req *fleetv1.AlertServiceListEventsRequest) (*fleetv1.AlertServiceListEventsResponse, error) {
	page, err := parsePage(req, int(req.GetLimit()), check.DefaultPageSize)
	if err != nil {
		return nil, check.ToStatus(err)
	}
	evs, last, more, err := s.a.Events(startKey(page), page.Size)
	if err != nil {
		return nil, check.ToStatus(err)
	}
	return &fleetv1.AlertServiceListEventsResponse{Events: evs, NextPageToken: page.Next(string(last), more)}, nil
}

// ListDeliveries returns one page of the notification deliveries, newest first.
func (s *alertService) ListDeliveries(_ context.Context, req *fleetv1.ListDeliveriesRequest) (*fleetv1.ListDeliveriesResponse, error) {
	page, err := parsePage(req, int(req.GetLimit()), check.DefaultPageSize)
	if err != nil {
		return nil, check.ToStatus(err)
	}
	ds, last, more, err := s.a.Deliveries(startKey(page), page.Size, req.GetFailedOnly())
	if err != nil {
		return nil, check.ToStatus(err)
	}
	return &fleetv1.ListDeliveriesResponse{Deliveries: ds, NextPageToken: page.Next(string(last), more)}, nil
}
