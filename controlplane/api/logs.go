package api

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dspyfleet/dspyfleet/controlplane/check"
	"github.com/dspyfleet/dspyfleet/controlplane/fleet"
	"github.com/dspyfleet/dspyfleet/controlplane/logs"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// defaultLogTop and maxLogTop bound ListTopTemplates.
const (
	defaultLogTop = 20
	maxLogTop     = 1000
)

// logService implements LogService over the template book.
type logService struct {
	fleetv1.UnimplementedLogServiceServer
	book *logs.Book
	reg  *fleet.Registry
	now  func() time.Time
}

// ListTopTemplates returns one page of a pool's busiest templates, busiest first.
func (l *logService) ListTopTemplates(_ context.Context, req *fleetv1.ListTopTemplatesRequest) (*fleetv1.ListTopTemplatesResponse, error) {
	if p := req.GetPool(); p != "" && !check.ValidID(p) {
		return nil, check.ToStatus(check.Invalidf("pool %q is not a valid pool name", check.Truncate(p)))
	}
	limit := int(req.GetLimit())
	if limit < 0 || limit > maxLogTop {
		return nil, check.ToStatus(check.Invalidf("limit %d must be between 1 and %d", limit, maxLogTop))
	}
	page, err := parsePage(req, limit, defaultLogTop)
	if err != nil {
		return nil, check.ToStatus(err)
	}
	offset, err := rankOffset(page)
	if err != nil {
		return nil, check.ToStatus(err)
	}
	templates, next := pageAt(page, offset, l.book.Top(req.GetPool(), offset+page.Size+1, l.now()))
	return &fleetv1.ListTopTemplatesResponse{Templates: templates, NextPageToken: next}, nil
}

// ListNodeTemplates returns one node's log figures and one page of its templates, busiest first.
func (l *logService) ListNodeTemplates(_ context.Context, req *fleetv1.ListNodeTemplatesRequest) (*fleetv1.ListNodeTemplatesResponse, error) {
	if !check.ValidID(req.GetNodeId()) {
		return nil, check.ToStatus(check.Invalidf("node_id %q is not a valid node id (1-63 letters, digits, '.', '_' or '-')", check.Truncate(req.GetNodeId())))
	}
	if _, err := l.reg.Get(req.GetNodeId()); err != nil {
		return nil, check.ToStatus(err)
	}
	page, err := parsePage(req, 0, check.DefaultPageSize)
	if err != nil {
		return nil, check.ToStatus(err)
	}
	offset, err := rankOffset(page)
	if err != nil {
		return nil, check.ToStatus(err)
	}
	stats, f, ok := l.book.Templates(req.GetNodeId(), l.now())
	if !ok {
		return nil, check.ToStatus(fmt.Errorf("%w: node %s has reported no log figures; set logs.files on its agent", check.ErrNotFound, req.GetNodeId()))
	}
	templates, next := pageAt(page, offset, stats)
	return &fleetv1.ListNodeTemplatesResponse{Figures: NodeLogFigures(f), Templates: templates, NextPageToken: next}, nil
}

// NodeLogFigures converts a node's log figures.
func NodeLogFigures(f logs.Figures) *fleetv1.NodeLogFigures {
	return &fleetv1.NodeLogFigures{
		Lines: f.Lines, Errors: f.Errors, ErrorRate: f.ErrorRate, ErrorsPerMinute: f.ErrorsPerMin,
		NewTemplates: uint32(f.NewTemplates), NewTemplateErrorsPerMinute: f.NewErrorsPerMin, Anomaly: f.Anomaly,
		Updated: timestamppb.New(f.Updated),
	}
}
