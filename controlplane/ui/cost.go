package ui

import (
	"cmp"
	"context"
	"errors"
	"net/http"
	"slices"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dspyfleet/dspyfleet/internal/wire"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// costRange is a span the cost page offers, with the width of each point.
type costRange struct {
	span, step time.Duration
}

// costRanges are the spans of the cost page: a day or a week by hour, 30 days by six hours.
var costRanges = map[string]costRange{
	"1d":  {24 * time.Hour, time.Hour},
	"1w":  {7 * 24 * time.Hour, time.Hour},
	"30d": {30 * 24 * time.Hour, 6 * time.Hour},
}

// costGroupings are the groupings the spend plot offers.
var costGroupings = map[string]fleetv1.CostGroupBy{
	"pool":    fleetv1.CostGroupBy_COST_GROUP_BY_POOL,
	"model":   fleetv1.CostGroupBy_COST_GROUP_BY_MODEL,
	"program": fleetv1.CostGroupBy_COST_GROUP_BY_PROGRAM,
}

// spendSeries is a cost series as uPlot takes it: USD per point, aligned on the view's T.
type spendSeries struct {
	Name    string    `json:"name"`
	USD     []float64 `json:"usd"`
	Unknown bool      `json:"unknown"`
}

// budgetPlot is a budget's current period as a plot: the spend the ledger accumulated up to
// each hour's end and up to now, the forecast from the budget's standing now to the period's
// end, and the limit, aligned on T (unix seconds). A figure without a value at a time is null.
type budgetPlot struct {
	T        []int64    `json:"t"`
	Spend    []*float64 `json:"spend"`
	Forecast []*float64 `json:"forecast"`
	Limit    []float64  `json:"limit"`
}

// budgetView is a budget's standing (CostService.ListBudgets in protojson) with its plot.
type budgetView struct {
	Status rawJSON    `json:"status"`
	Plot   budgetPlot `json:"plot"`
	// PlotError says why the plot is missing, when its series could not be read.
	PlotError string `json:"plotError,omitempty"`
}

// costView is what the cost page shows.
type costView struct {
	Range string `json:"range"`
	By    string `json:"by"`
	Step  int64  `json:"step"`
	// T is each point's start in unix seconds; Series the spend of each group, Total all.
	T      []int64       `json:"t"`
	Series []spendSeries `json:"series"`
	Total  spendSeries   `json:"total"`
	// Budgets and BudgetEvents come from ListBudgets.
	Budgets      []budgetView `json:"budgets"`
	BudgetEvents rawJSON      `json:"budgetEvents"`
	// Capacity is GetReport grouped by capacity type over the range (on-demand, spot and
	// reserved host hours and cost) in protojson.
	Capacity rawJSON `json:"capacity"`
	// Recommendations is ListRecommendations (every open one, most savings first) in protojson.
	Recommendations rawJSON `json:"recommendations"`
}

// cost answers the cost page: spend per ?by= (pool, model or program) over ?range= (1d, 1w or
// 30d), each budget's period against its limit with the forecast, host cost by capacity type and
// the open recommendations.
func (h *Handler) cost(w http.ResponseWriter, r *http.Request, s *session) {
	q := r.URL.Query()
	rangeName, byName := q.Get("range"), q.Get("by")
	if rangeName == "" {
		rangeName = "1d"
	}
	if byName == "" {
		byName = "pool"
	}
	cr, ok := costRanges[rangeName]
	if !ok {
		writeError(w, http.StatusBadRequest, "range: "+rangeName+" is not one of 1d, 1w, 30d")
		return
	}
	by, ok := costGroupings[byName]
	if !ok {
		writeError(w, http.StatusBadRequest, "by: "+byName+" is not one of pool, model, program")
		return
	}
	ctx := callContext(r.Context(), s)
	now := h.cfg.Now()
	start, end := timestamppb.New(now.Add(-cr.span)), timestamppb.New(now)
	series, err := h.costs.GetSeries(ctx, &fleetv1.CostServiceGetSeriesRequest{Start: start, End: end, GroupBy: by, Step: durationpb.New(cr.step)})
	if err != nil {
		writeStatus(w, err)
		return
	}
	view := costView{Range: rangeName, By: byName, Step: int64(cr.step / time.Second), Series: []spendSeries{}, Budgets: []budgetView{},
		Total: spendSeries{Name: "total", USD: series.GetTotal().GetTotalUsd(), Unknown: series.GetTotal().GetUnknown()}}
	for _, t := range series.GetTimes() {
		view.T = append(view.T, t.AsTime().Unix())
	}
	for _, x := range series.GetSeries() {
		view.Series = append(view.Series, spendSeries{Name: x.GetName(), USD: x.GetTotalUsd(), Unknown: x.GetUnknown()})
	}
	budgets, events, err := h.allBudgets(ctx)
	if err != nil {
		writeStatus(w, err)
		return
	}
	opts := protojson.MarshalOptions{EmitUnpopulated: true}
	for _, b := range budgets {
		v := budgetView{}
		if v.Status, err = opts.Marshal(b); err != nil {
			writeError(w, http.StatusInternalServerError, err.Error())
			return
		}
		if v.Plot, err = h.budgetPlot(r, s, b, now); err != nil {
			v.PlotError = err.Error()
		}
		view.Budgets = append(view.Budgets, v)
	}
	capacity, err := h.costs.GetReport(ctx, &fleetv1.GetReportRequest{Start: start, End: end, GroupBy: fleetv1.CostGroupBy_COST_GROUP_BY_CAPACITY_TYPE})
	if err != nil {
		writeStatus(w, err)
		return
	}
	recs, err := h.openRecommendations(ctx)
	if err != nil {
		writeStatus(w, err)
		return
	}
	if view.BudgetEvents, err = opts.Marshal(&fleetv1.ListBudgetsResponse{Events: events}); err == nil {
		if view.Capacity, err = opts.Marshal(capacity); err == nil {
			view.Recommendations, err = opts.Marshal(recs)
		}
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, view)
}

// errNotEvaluated is the plot error of a budget whose period the cost step has not evaluated.
var errNotEvaluated = errors.New("not evaluated yet: the cost step evaluates budgets every reconcile interval")

// budgetPlot reads the spend of b's scope over its current period (CostService.GetSeries by the
// hour) and accumulates it: the fleet's and a pool's budgets count host and token cost, a
// program's its token cost, a capacity type's the host cost of those hosts.
func (h *Handler) budgetPlot(r *http.Request, s *session, st *fleetv1.BudgetStatus, now time.Time) (budgetPlot, error) {
	b := st.GetBudget()
	if st.GetPeriodStart() == nil || st.GetPeriodEnd() == nil {
		return budgetPlot{}, errNotEvaluated
	}
	periodStart, periodEnd := st.GetPeriodStart().AsTime(), st.GetPeriodEnd().AsTime()
	req := &fleetv1.CostServiceGetSeriesRequest{Start: st.GetPeriodStart(), End: timestamppb.New(now), Pool: b.GetPool(), Step: durationpb.New(time.Hour)}
	name, hostOnly := "", false
	switch {
	case b.GetProgram() != "":
		req.GroupBy, req.Pool, name = fleetv1.CostGroupBy_COST_GROUP_BY_PROGRAM, "", b.GetProgram()
	case b.GetCapacityType() != fleetv1.CapacityType_CAPACITY_TYPE_UNSPECIFIED:
		req.GroupBy, name, hostOnly = fleetv1.CostGroupBy_COST_GROUP_BY_CAPACITY_TYPE, wire.CapacityName(b.GetCapacityType()), true
	default:
		req.GroupBy = fleetv1.CostGroupBy_COST_GROUP_BY_POOL
	}
	var p budgetPlot
	if !periodStart.Before(now) {
		return p, nil
	}
	resp, err := h.costs.GetSeries(callContext(r.Context(), s), req)
	if err != nil {
		return p, err
	}
	usd := resp.GetTotal().GetTotalUsd()
	if name != "" {
		usd = nil
		for _, x := range resp.GetSeries() {
			if x.GetName() == name {
				usd = x.GetTotalUsd()
				if hostOnly {
					usd = x.GetHostUsd()
				}
			}
		}
	}
	f := func(v float64) *float64 { return &v }
	limit := b.GetLimitUsd()
	add := func(t time.Time, spend, forecast *float64) {
		p.T = append(p.T, t.Unix())
		p.Spend = append(p.Spend, spend)
		p.Forecast = append(p.Forecast, forecast)
		p.Limit = append(p.Limit, limit)
	}
	add(periodStart, f(0), nil)
	sum := 0.0
	for i, t := range resp.GetTimes() {
		if i < len(usd) {
			sum += usd[i]
		}
		if hourEnd := t.AsTime().Add(time.Hour); hourEnd.Before(now) && hourEnd.After(periodStart) {
			add(hourEnd, f(sum), nil)
		}
	}
	// The ledger's sum up to now ends the spend; the forecast starts from the budget's standing.
	add(now, f(sum), f(st.GetSpendUsd()))
	if periodEnd.After(now) {
		add(periodEnd, nil, f(st.GetForecastUsd()))
	}
	return p, nil
}

// allBudgets reads every page of ListBudgets: the budgets by name and the events (first page).
func (h *Handler) allBudgets(ctx context.Context) ([]*fleetv1.BudgetStatus, []*fleetv1.BudgetEvent, error) {
	var (
		out    []*fleetv1.BudgetStatus
		events []*fleetv1.BudgetEvent
	)
	req := &fleetv1.ListBudgetsRequest{PageSize: listPage}
	for {
		resp, err := h.costs.ListBudgets(ctx, req)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, resp.GetBudgets()...)
		if req.GetPageToken() == "" {
			events = resp.GetEvents()
		}
		if resp.GetNextPageToken() == "" {
			return out, events, nil
		}
		req.PageToken = resp.GetNextPageToken()
	}
}

// openRecommendations reads every page of the open recommendations and ranks them, most savings
// first.
func (h *Handler) openRecommendations(ctx context.Context) (*fleetv1.ListRecommendationsResponse, error) {
	var all *fleetv1.ListRecommendationsResponse
	req := &fleetv1.ListRecommendationsRequest{PageSize: listPage}
	for {
		resp, err := h.costs.ListRecommendations(ctx, req)
		if err != nil {
			return nil, err
		}
		if all == nil {
			all = resp
		} else {
			all.Recommendations = append(all.Recommendations, resp.GetRecommendations()...)
		}
		if resp.GetNextPageToken() == "" {
			break
		}
		req.PageToken = resp.GetNextPageToken()
	}
	all.NextPageToken = ""
	slices.SortStableFunc(all.Recommendations, func(a, b *fleetv1.Recommendation) int {
		return cmp.Compare(b.GetMonthlySavingsUsd(), a.GetMonthlySavingsUsd())
	})
	return all, nil
}
