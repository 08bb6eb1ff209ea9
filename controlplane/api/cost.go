package api

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/dspyfleet/dspyfleet/controlplane/check"
	"github.com/dspyfleet/dspyfleet/controlplane/cost"
	"github.com/dspyfleet/dspyfleet/controlplane/policy"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// costService serves CostService from the cost tracker.
type costService struct {
	fleetv1.UnimplementedCostServiceServer
	c   *cost.Tracker
	doc *policy.Document // the one writer of budgets and prices
	now func() time.Time
}

var groupings = map[fleetv1.CostGroupBy]bool{
	fleetv1.CostGroupBy_COST_GROUP_BY_POOL: true, fleetv1.CostGroupBy_COST_GROUP_BY_NODE: true,
	fleetv1.CostGroupBy_COST_GROUP_BY_MODEL: true, fleetv1.CostGroupBy_COST_GROUP_BY_PROGRAM: true,
	fleetv1.CostGroupBy_COST_GROUP_BY_CAPACITY_TYPE: true,
}

// GetReport returns the ledger's cost over the range, grouped.
func (s *costService) GetReport(_ context.Context, req *fleetv1.GetReportRequest) (*fleetv1.GetReportResponse, error) {
	var v check.Violations
	end := s.now()
	if req.GetEnd() != nil {
		if err := req.GetEnd().CheckValid(); err != nil {
			v.Add("end", "%v", err)
		}
		end = req.GetEnd().AsTime()
	}
	start := end.Add(-cost.DefaultReportRange)
	if req.GetStart() != nil {
		if err := req.GetStart().CheckValid(); err != nil {
			v.Add("start", "%v", err)
		}
		start = req.GetStart().AsTime()
	}
	if !start.Before(end) {
		v.Add("start", "%s must be before end %s", start.Format(time.RFC3339), end.Format(time.RFC3339))
	} else if end.Sub(start) > cost.MaxReportRange {
		v.Add("start", "the range %s is longer than %s", end.Sub(start).Round(time.Hour), cost.MaxReportRange)
	}
	by := req.GetGroupBy()
	if by == fleetv1.CostGroupBy_COST_GROUP_BY_UNSPECIFIED {
		by = fleetv1.CostGroupBy_COST_GROUP_BY_POOL
	}
	if !groupings[by] {
		v.Add("group_by", "%d is not POOL, NODE, MODEL or PROGRAM", by)
	}
	if req.GetPool() != "" && !check.ValidID(req.GetPool()) {
		v.Add("pool", "%q is not a valid pool name (1-63 letters, digits, '.', '_' or '-')", check.Truncate(req.GetPool()))
	}
	if len(v) > 0 {
		return nil, check.ToStatus(v.Err())
	}
	resp, err := s.c.Report(start, end, by, req.GetPool())
	return resp, check.ToStatus(err)
}

// ListBudgets returns one page of the budgets' standings by name, each budget with its etag,
// and with the first page the newest events.
func (s *costService) ListBudgets(_ context.Context, req *fleetv1.ListBudgetsRequest) (*fleetv1.ListBudgetsResponse, error) {
	page, err := parsePage(req, 0, check.DefaultPageSize)
	if err != nil {
		return nil, check.ToStatus(err)
	}
	resp, err := s.c.ListBudgets()
	if err != nil {
		return nil, check.ToStatus(err)
	}
	if page.After != "" {
		resp.Events = nil
	}
	resp.Budgets, resp.NextPageToken = pageOf(page, resp.GetBudgets(), func(b *fleetv1.BudgetStatus) string { return b.GetBudget().GetName() }, false)
	for _, b := range resp.GetBudgets() {
		if b.Budget.Etag, err = s.doc.EntryEtag("budgets", b.GetBudget().GetName()); err != nil {
			return nil, check.ToStatus(err)
		}
	}
	return resp, nil
}

// budgetRetry is how to retry a change to budget name that lost to another.
func budgetRetry(name string) string {
	return fmt.Sprintf("read the budget again (fleetctl cost budgets), redo the change on it and send it with its new etag (--etag); budget %s", name)
}

// SetBudget validates a budget and forwards it to the fleet policy document, the one writer of
// budgets, as a new revision; with an etag, only when the stored budget still has it. With an
// update mask, only the named fields of the stored budget change.
func (s *costService) SetBudget(ctx context.Context, req *fleetv1.SetBudgetRequest) (*fleetv1.SetBudgetResponse, error) {
	if req.GetBudget() == nil {
		return nil, check.ToStatus(check.Invalidf("budget: missing"))
	}
	in, etag := req.GetBudget(), req.GetEtag()
	if len(req.GetUpdateMask().GetPaths()) > 0 {
		var err error
		if in, etag, err = s.maskedBudget(in, req.GetUpdateMask(), etag); err != nil {
			return nil, check.ToStatus(err)
		}
	}
	if _, _, err := cost.BudgetFromProto(in); err != nil {
		return nil, check.ToStatus(err)
	}
	b := proto.CloneOf(in)
	b.Etag = ""
	entry := proto.CloneOf(b)
	entry.Name = ""
	_, newEtag, err := s.doc.Edit("budgets", b.GetName(), entry, etag, budgetRetry(b.GetName()), "CostService.SetBudget "+b.GetName(), author(ctx, ""))
	if err != nil {
		return nil, check.ToStatus(err)
	}
	b.Etag = newEtag
	return &fleetv1.SetBudgetResponse{Budget: b}, nil
}

// maskedBudget is the stored budget of in's name with the fields mask names taken from in
// (AIP-134). Without an etag from the caller it returns the stored budget's, so a change landing
// between this read and the write fails ABORTED instead of being overwritten.
func (s *costService) maskedBudget(in *fleetv1.Budget, mask *fieldmaskpb.FieldMask, etag string) (*fleetv1.Budget, string, error) {
	for j, p := range mask.GetPaths() {
		if p == "name" {
			return nil, "", check.Invalidf("update_mask.paths[%d]: name names the budget; it cannot be updated", j)
		}
	}
	stored, err := s.doc.EntryEtag("budgets", in.GetName()) // before the read: a change between fails ABORTED
	if err != nil {
		return nil, "", err
	}
	base := s.c.Budget(in.GetName())
	if base == nil {
		return nil, "", fmt.Errorf("%w: no budget named %q to update; set the whole budget without update_mask", check.ErrNotFound, check.Truncate(in.GetName()))
	}
	if err := check.ApplyMask(base, in, mask, "update_mask"); err != nil {
		return nil, "", err
	}
	return base, cmp.Or(etag, stored), nil
}

// DeleteBudget removes a budget, through the fleet policy document as a new revision; with an
// etag, only when the stored budget still has it.
func (s *costService) DeleteBudget(ctx context.Context, req *fleetv1.DeleteBudgetRequest) (*fleetv1.DeleteBudgetResponse, error) {
	if !check.ValidID(req.GetName()) {
		return nil, check.ToStatus(check.Invalidf("name: %q is not a budget name (1-63 letters, digits, '.', '_' or '-')", check.Truncate(req.GetName())))
	}
	if _, _, err := s.doc.Edit("budgets", req.GetName(), nil, req.GetEtag(), budgetRetry(req.GetName()), "CostService.DeleteBudget "+req.GetName(), author(ctx, "")); err != nil {
		if errors.Is(err, check.ErrNotFound) {
			err = fmt.Errorf("%w: no budget named %q; list them with fleetctl cost budgets", check.ErrNotFound, check.Truncate(req.GetName()))
		}
		return nil, check.ToStatus(err)
	}
	return &fleetv1.DeleteBudgetResponse{}, nil
}

// GetPrices returns the price table with its etag.
func (s *costService) GetPrices(context.Context, *fleetv1.GetPricesRequest) (*fleetv1.GetPricesResponse, error) {
	etag, err := s.doc.SectionEtag("prices")
	if err != nil {
		return nil, check.ToStatus(err)
	}
	pp := s.c.PricesProto()
	pp.Etag = etag
	return &fleetv1.GetPricesResponse{Prices: pp}, nil
}

// SetPrices validates the price table and forwards it to the fleet policy document, the one
// writer of prices, as a new revision; with an etag, only when the stored table still has it.
// Token cost of the recent hours is priced with it on the next step; older hours keep the
// prices they were accrued at.
func (s *costService) SetPrices(ctx context.Context, req *fleetv1.SetPricesRequest) (*fleetv1.SetPricesResponse, error) {
	t, err := cost.ValidatePrices(req.GetPrices())
	if err != nil {
		return nil, check.ToStatus(err)
	}
	pp := cost.TableToProto(t)
	_, etag, err := s.doc.Replace("prices", pp, req.GetEtag(),
		"read the prices again (fleetctl cost prices), redo the change on them and set them with the new etag (--etag)", "CostService.SetPrices", author(ctx, ""))
	if err != nil {
		return nil, check.ToStatus(err)
	}
	pp.Etag = etag
	return &fleetv1.SetPricesResponse{Prices: pp}, nil
}

// ListRecommendations draws the savings recommendations from the last week and returns one
// page of them by id.
func (s *costService) ListRecommendations(_ context.Context, req *fleetv1.ListRecommendationsRequest) (*fleetv1.ListRecommendationsResponse, error) {
	page, err := parsePage(req, 0, check.DefaultPageSize)
	if err != nil {
		return nil, check.ToStatus(err)
	}
	resp, err := s.c.ListRecs(req.GetIncludeClosed(), s.now())
	if err != nil {
		return nil, check.ToStatus(err)
	}
	resp.Recommendations, resp.NextPageToken = pageOf(page, resp.GetRecommendations(), (*fleetv1.Recommendation).GetId, false)
	return resp, nil
}

// UpdateRecommendation sets a recommendation's state.
func (s *costService) UpdateRecommendation(_ context.Context, req *fleetv1.UpdateRecommendationRequest) (*fleetv1.UpdateRecommendationResponse, error) {
	if req.GetId() == "" {
		return nil, check.ToStatus(check.Invalidf("id: missing; list recommendations with fleetctl cost recs"))
	}
	r, err := s.c.UpdateRec(req.GetId(), req.GetState(), req.GetEtag(), s.now())
	if err != nil {
		return nil, check.ToStatus(err)
	}
	return &fleetv1.UpdateRecommendationResponse{Recommendation: r}, nil
}

// GetSeries returns the ledger's cost over the range as one point per step, grouped.
func (s *costService) GetSeries(_ context.Context, req *fleetv1.CostServiceGetSeriesRequest) (*fleetv1.CostServiceGetSeriesResponse, error) {
	q, err := seriesQueryOf(req, s.now())
	if err != nil {
		return nil, check.ToStatus(err)
	}
	resp, err := s.c.Series(q.start, q.end, q.step, q.by, q.pool)
	return resp, check.ToStatus(err)
}

// seriesQuery is a checked GetSeries request with its defaults filled in.
type seriesQuery struct {
	start, end time.Time
	step       time.Duration
	by         fleetv1.CostGroupBy
	pool       string
}

// seriesQueryOf checks req at now: a valid range of at most cost.MaxReportRange, a step of whole
// hours from 1h to cost.MaxSeriesStep making at most cost.MaxSeriesPoints points, a grouping
// and a pool name. A bad request is ErrInvalidArgument naming each bad field.
func seriesQueryOf(req *fleetv1.CostServiceGetSeriesRequest, now time.Time) (seriesQuery, error) {
	var v check.Violations
	q := seriesQuery{end: now, step: time.Hour, by: req.GetGroupBy(), pool: req.GetPool()}
	if req.GetEnd() != nil {
		if err := req.GetEnd().CheckValid(); err != nil {
			v.Add("end", "%v", err)
		}
		q.end = req.GetEnd().AsTime()
	}
	q.start = q.end.Add(-cost.DefaultSeriesRange)
	if req.GetStart() != nil {
		if err := req.GetStart().CheckValid(); err != nil {
			v.Add("start", "%v", err)
		}
		q.start = req.GetStart().AsTime()
	}
	if req.GetStep() != nil {
		if err := req.GetStep().CheckValid(); err != nil {
			v.Add("step", "%v", err)
		}
		q.step = req.GetStep().AsDuration()
	}
	span := q.end.Sub(q.start)
	switch {
	case q.step < time.Hour || q.step > cost.MaxSeriesStep || q.step%time.Hour != 0:
		v.Add("step", "%s is not a whole number of hours from 1h to %s", q.step, cost.MaxSeriesStep)
	case !q.start.Before(q.end):
		v.Add("start", "%s must be before end %s", q.start.Format(time.RFC3339), q.end.Format(time.RFC3339))
	case span > cost.MaxReportRange:
		v.Add("start", "the range from %s to %s is longer than %s", q.start.Format(time.RFC3339), q.end.Format(time.RFC3339), cost.MaxReportRange)
	case span/q.step+1 > cost.MaxSeriesPoints:
		v.Add("step", "%s over %s makes more than %d points; take a longer step", q.step, span.Round(time.Hour), cost.MaxSeriesPoints)
	}
	if q.by == fleetv1.CostGroupBy_COST_GROUP_BY_UNSPECIFIED {
		q.by = fleetv1.CostGroupBy_COST_GROUP_BY_POOL
	}
	if !groupings[q.by] {
		v.Add("group_by", "%d is not POOL, NODE, MODEL, PROGRAM or CAPACITY_TYPE", q.by)
	}
	if q.pool != "" && !check.ValidID(q.pool) {
		v.Add("pool", "%q is not a valid pool name (1-63 letters, digits, '.', '_' or '-')", check.Truncate(q.pool))
	}
	return q, v.Err()
}
