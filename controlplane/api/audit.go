package api

import (
	"context"
	"slices"

	"github.com/dspyfleet/dspyfleet/controlplane/auth"
	"github.com/dspyfleet/dspyfleet/controlplane/check"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// ListAudit returns one page of the audit trail, newest first.
func (f *fleetService) ListAudit(_ context.Context, req *fleetv1.ListAuditRequest) (*fleetv1.ListAuditResponse, error) {
	for _, k := range req.GetKinds() {
		if _, ok := fleetv1.AuditKind_name[int32(k)]; !ok || k == fleetv1.AuditKind_AUDIT_KIND_UNSPECIFIED {
			return nil, check.ToStatus(check.Invalidf("kinds: %d is not an audit kind", k))
		}
	}
	if s := req.GetSince(); s != nil && !s.IsValid() {
		return nil, check.ToStatus(check.Invalidf("since: not a valid timestamp"))
	}
	if len(req.GetTarget()) > check.MaxStringLen {
		return nil, check.ToStatus(check.Invalidf("target: at most %d bytes", check.MaxStringLen))
	}
	if req.GetLimit() > auth.MaxAuditLimit {
		return nil, check.ToStatus(check.Invalidf("limit: %d is more than %d", req.GetLimit(), auth.MaxAuditLimit))
	}
	page, err := parsePage(req, int(req.GetLimit()), check.DefaultPageSize)
	if err != nil {
		return nil, check.ToStatus(err)
	}
	recs, last, more, err := f.audit.List(req, startKey(page), page.Size)
	if err != nil {
		return nil, check.ToStatus(err)
	}
	return &fleetv1.ListAuditResponse{Records: recs, NextPageToken: page.Next(string(last), more)}, nil
}

// refusedByAgent reports whether a finished command failed without the agent ever accepting
// it: the agent refused it (invalid there, or no action configured for its kind).
func refusedByAgent(rec *fleetv1.CommandRecord) bool {
	return rec.GetState() == fleetv1.CommandState_COMMAND_STATE_FAILED &&
		!slices.ContainsFunc(rec.GetHistory(), func(t *fleetv1.CommandTransition) bool {
			return t.GetState() == fleetv1.CommandState_COMMAND_STATE_ACCEPTED || t.GetState() == fleetv1.CommandState_COMMAND_STATE_RUNNING
		})
}
