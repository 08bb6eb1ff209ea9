package api

import (
	"context"
	"strconv"

	"github.com/dspyfleet/dspyfleet/controlplane/auth"
	"github.com/dspyfleet/dspyfleet/controlplane/check"
	"github.com/dspyfleet/dspyfleet/controlplane/policy"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// defaultRevisionLimit is the number of revisions ListRevisions returns when neither page_size
// nor limit is given.
const defaultRevisionLimit = 50

// configService implements ConfigService on the fleet configuration.
type configService struct {
	fleetv1.UnimplementedConfigServiceServer
	fc *policy.Document
}

// author names who changed the policy: the authenticated caller (its role or node) and address,
// after the author the request names, which the caller chose and so is not proof.
func author(ctx context.Context, given string) string {
	who := auth.PeerAddr(ctx)
	if id, ok := auth.IdentityFrom(ctx); ok && id.Name != "" {
		who = id.Name + "@" + who
	}
	if given != "" {
		return check.Truncate(given) + " (" + who + ")"
	}
	return who
}

// Validate checks a document without applying it.
func (s *configService) Validate(_ context.Context, req *fleetv1.ConfigServiceValidateRequest) (*fleetv1.ConfigServiceValidateResponse, error) {
	_, names, err := s.fc.Prepare(req.GetDocument())
	if err != nil {
		return nil, check.ToStatus(err)
	}
	return &fleetv1.ConfigServiceValidateResponse{Sections: names}, nil
}

// Apply validates and applies a document as a new revision; with an etag, only when the policy
// in effect still has it.
func (s *configService) Apply(ctx context.Context, req *fleetv1.ConfigServiceApplyRequest) (*fleetv1.ConfigServiceApplyResponse, error) {
	rev, err := s.fc.ApplyIf(req.GetEtag(), req.GetDocument(), req.GetMessage(), author(ctx, req.GetAuthor()))
	if err != nil {
		return nil, check.ToStatus(err)
	}
	return &fleetv1.ConfigServiceApplyResponse{Revision: rev}, nil
}

// Export returns the policy in effect.
func (s *configService) Export(context.Context, *fleetv1.ConfigServiceExportRequest) (*fleetv1.ConfigServiceExportResponse, error) {
	doc, etag, err := s.fc.ExportEtag()
	if err != nil {
		return nil, check.ToStatus(err)
	}
	return &fleetv1.ConfigServiceExportResponse{Document: doc, Etag: etag}, nil
}

// ListRevisions lists one page of revisions, newest first.
func (s *configService) ListRevisions(_ context.Context, req *fleetv1.ConfigServiceListRevisionsRequest) (*fleetv1.ConfigServiceListRevisionsResponse, error) {
	page, err := parsePage(req, int(req.GetLimit()), defaultRevisionLimit)
	if err != nil {
		return nil, check.ToStatus(err)
	}
	var before uint64
	if page.After != "" {
		if before, err = strconv.ParseUint(page.After, 10, 64); err != nil || before == 0 {
			return nil, check.ToStatus(check.Invalidf("page_token: holds no revision number; start again without one"))
		}
	}
	revs, more, err := s.fc.Revisions(before, page.Size)
	if err != nil {
		return nil, check.ToStatus(err)
	}
	resp := &fleetv1.ConfigServiceListRevisionsResponse{Revisions: revs}
	if len(revs) > 0 {
		resp.NextPageToken = page.Next(strconv.FormatUint(revs[len(revs)-1].GetNumber(), 10), more)
	}
	return resp, nil
}

// GetRevision returns one revision.
func (s *configService) GetRevision(_ context.Context, req *fleetv1.ConfigServiceGetRevisionRequest) (*fleetv1.ConfigServiceGetRevisionResponse, error) {
	if req.GetNumber() == 0 {
		return nil, check.ToStatus(check.Invalidf("number: revisions start at 1"))
	}
	rev, err := s.fc.Revision(req.GetNumber())
	if err != nil {
		return nil, check.ToStatus(err)
	}
	return &fleetv1.ConfigServiceGetRevisionResponse{Revision: rev}, nil
}

// Diff compares two revisions.
func (s *configService) Diff(_ context.Context, req *fleetv1.ConfigServiceDiffRequest) (*fleetv1.ConfigServiceDiffResponse, error) {
	if req.GetFrom() == 0 {
		return nil, check.ToStatus(check.Invalidf("from: revisions start at 1"))
	}
	d, err := s.fc.Diff(req.GetFrom(), req.GetTo())
	if err != nil {
		return nil, check.ToStatus(err)
	}
	return &fleetv1.ConfigServiceDiffResponse{Diff: d}, nil
}

// Rollback applies an earlier revision's document again, and returns the diff it applied (or,
// on a dry run, would apply).
func (s *configService) Rollback(ctx context.Context, req *fleetv1.ConfigServiceRollbackRequest) (*fleetv1.ConfigServiceRollbackResponse, error) {
	if req.GetNumber() == 0 {
		return nil, check.ToStatus(check.Invalidf("number: revisions start at 1"))
	}
	msg := req.GetMessage()
	if msg == "" {
		msg = "rollback"
	}
	rev, diff, err := s.fc.Rollback(req.GetNumber(), msg, author(ctx, req.GetAuthor()), req.GetDryRun())
	if err != nil {
		return nil, check.ToStatus(err)
	}
	return &fleetv1.ConfigServiceRollbackResponse{Revision: rev, Diff: diff}, nil
}
