package controlplane_test

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dspyfleet/dspyfleet/controlplane"
	"github.com/dspyfleet/dspyfleet/internal/fleettest"
	"github.com/dspyfleet/dspyfleet/internal/wire"
	"github.com/dspyfleet/dspyfleet/pkg/reqstats"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// costPrices: m.test costs 36 USD/h (1 cent a second); "table" is priced by the control plane
// only: 1e5 input tokens × 10 + 1e4 output × 30 per million = 1.3 USD a request.
var costPrices = &fleetv1.Prices{
	Instances: []*fleetv1.InstancePrice{{InstanceType: "m.test", OnDemandHourly: 36, SpotHourly: 12, Vcpus: 4, MemoryGib: 16}},
	Models:    []*fleetv1.ModelPrice{{Model: "table", InputPerMtok: 10, OutputPerMtok: 30}},
}

// agentPrices price "agent" on the agent: 1000 input × 1 + 500 output × 2 per million = 0.002 USD.
var agentPrices = reqstats.Prices{"agent": {InputPerMTok: 1, OutputPerMTok: 2}}

func agentReq(program string, hit bool) reqstats.Event {
	e := reqstats.Event{Program: program, Model: "agent", InputTokens: 1000, OutputTokens: 500, Cache: reqstats.CacheMiss, Latency: time.Millisecond}
	if hit {
		e.Cache = reqstats.CacheHit
	}
	return e
}

func tableReq(program string) reqstats.Event {
	return reqstats.Event{Program: program, Model: "table", InputTokens: 100_000, OutputTokens: 10_000, Cache: reqstats.CacheMiss, Latency: time.Millisecond}
}

// costAgent is a raw agent session that sends request windows.
type costAgent struct {
	t      *testing.T
	s      agentStream
	seq    uint64
	clock  func() time.Time
	prices reqstats.Prices // the agent's prices: table; agentPrices when nil
}

func connectCostAgent(t *testing.T, cp *fleettest.ControlPlane, h *fleetv1.Hello, clock func() time.Time) *costAgent {
	t.Helper()
	s := open(t, cp)
	h.InstanceId, h.ReportInterval = "i1", durationpb.New(time.Second)
	send(t, s, &fleetv1.ConnectRequest{Msg: &fleetv1.ConnectRequest_Hello{Hello: h}})
	if m, err := s.Recv(); err != nil || m.GetWelcome() == nil {
		t.Fatalf("want Welcome, got %v, %v", m, err)
	}
	return &costAgent{t: t, s: s, clock: clock}
}

// send reports one window holding events and waits for its acknowledgement.
func (a *costAgent) send(events ...reqstats.Event) {
	a.t.Helper()
	now := a.clock()
	prices := a.prices
	if prices == nil {
		prices = agentPrices
	}
	agg := reqstats.NewAggregator(prices, reqstats.DefaultRelativeAccuracy, reqstats.DefaultTopN, now.Add(-time.Second))
	for _, e := range events {
		agg.Add(e)
	}
	a.seq++
	rep := &fleetv1.MetricsReport{Seq: a.seq, Time: timestamppb.New(now), App: wire.AppFromWindow(agg.Flush(now), 0, 0),
		Host: &fleetv1.HostMetrics{CpuPercent: 10, MemoryUsedPercent: 20}}
	send(a.t, a.s, &fleetv1.ConnectRequest{Msg: &fleetv1.ConnectRequest_Report{Report: rep}})
	waitAck(a.t, a.s, a.seq)
}

func costClient(t *testing.T, cp *fleettest.ControlPlane) fleetv1.CostServiceClient {
	return fleetv1.NewCostServiceClient(fleettest.Dial(t, cp.GRPCAddr()))
}

func lines(r *fleetv1.GetReportResponse) map[string]*fleetv1.CostLine {
	out := map[string]*fleetv1.CostLine{"total": r.GetTotal()}
	for _, l := range r.GetLines() {
		out[l.GetName()] = l
	}
	return out
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

// TestCostReportExact sends known traffic from two agents and reads it back by model, program,
// pool and node: token cost and savings exact, host cost accruing, an unknown instance type
// reported unknown with a warning, and the Prometheus cost series.
func TestCostReportExact(t *testing.T) {
	cp := fleettest.StartControlPlane(t, fleettest.FastConfig(t))
	c := costClient(t, cp)
	ctx := context.Background()
	if _, err := c.SetPrices(ctx, &fleetv1.SetPricesRequest{Prices: costPrices}); err != nil {
		t.Fatal(err)
	}
	a := connectCostAgent(t, cp, &fleetv1.Hello{NodeId: "w1", Pool: "web", InstanceType: "m.test"}, time.Now)
	b := connectCostAgent(t, cp, &fleetv1.Hello{NodeId: "w2", Pool: "batch", InstanceType: "z.unknown"}, time.Now)
	a.send(agentReq("qa", false), agentReq("qa", false), agentReq("qa", true), tableReq("sum"))
	b.send(tableReq("sum"), tableReq("sum"))
	a.send(agentReq("qa", false))

	var resp *fleetv1.GetReportResponse
	fleettest.Eventually(t, 10*time.Second, "token cost in the ledger", func() bool {
		var err error
		resp, err = c.GetReport(ctx, &fleetv1.GetReportRequest{GroupBy: fleetv1.CostGroupBy_COST_GROUP_BY_MODEL})
		return err == nil && near(lines(resp)["table"].GetTokenUsd(), 3*1.3) && near(lines(resp)["agent"].GetTokenUsd(), 3*0.002)
	})
	m := lines(resp)
	if m["agent"].GetRequests() != 4 || !near(m["agent"].GetSavedUsd(), 0.002) || m["agent"].GetCacheHits() != 1 || m["agent"].GetHostUsd() != 0 {
		t.Fatalf("agent model line %v", m["agent"])
	}
	if !near(m["total"].GetTokenUsd(), 3*1.3+3*0.002) || !near(m["table"].GetCostPerRequestUsd(), 1.3) {
		t.Fatalf("total %v", m["total"])
	}
	prog, err := c.GetReport(ctx, &fleetv1.GetReportRequest{GroupBy: fleetv1.CostGroupBy_COST_GROUP_BY_PROGRAM})
	if err != nil {
		t.Fatal(err)
	}
	if p := lines(prog); !near(p["qa"].GetTokenUsd(), 0.006) || !near(p["qa"].GetSavedUsd(), 0.002) || !near(p["sum"].GetTokenUsd(), 3.9) {
		t.Fatalf("programs %v", prog.GetLines())
	}
	fleettest.Eventually(t, 10*time.Second, "host cost of w1", func() bool {
		resp, err = c.GetReport(ctx, &fleetv1.GetReportRequest{GroupBy: fleetv1.CostGroupBy_COST_GROUP_BY_NODE})
		// The warning about w2's instance type comes with the step that first bills it.
		return err == nil && lines(resp)["w1"].GetHostUsd() > 0 && lines(resp)["w2"].GetUnpricedHostHours() > 0 && len(resp.GetWarnings()) > 0
	})
	n := lines(resp)
	if w2 := n["w2"]; w2.GetHostUsd() != 0 || !w2.GetUnknown() || w2.GetPool() != "batch" || !near(w2.GetTokenUsd(), 2.6) {
		t.Fatalf("w2 (unknown instance type) %v", w2)
	}
	if !n["total"].GetUnknown() || len(resp.GetWarnings()) != 1 || !strings.Contains(resp.GetWarnings()[0], `"z.unknown" is not in the price table`) {
		t.Fatalf("warnings %q, total %v", resp.GetWarnings(), n["total"])
	}
	// 36 USD/h: w1's host cost is 1 cent per second it has been up.
	if up := n["w1"].GetHostHours() * 3600; !near(n["w1"].GetHostUsd(), up*0.01) || up > 30 {
		t.Fatalf("w1 host %v USD for %v s", n["w1"].GetHostUsd(), up)
	}
	body := scrape(t, cp)
	for _, want := range []string{`dspyfleet_cost_usd_total{kind="tokens",pool="batch"} 2.6`, `dspyfleet_model_cost_usd_total{model="table"} 3.9`,
		`dspyfleet_cost_usd_per_hour{kind="host",pool="web"} 36`, `dspyfleet_cost_unpriced_nodes 1`} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func scrape(t *testing.T, cp *fleettest.ControlPlane) string {
	t.Helper()
	r, err := http.Get("http://" + cp.HTTPAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestCostBadInput: every bad request is INVALID_ARGUMENT naming the field (or NOT_FOUND), and
// nothing is stored.
func TestCostBadInput(t *testing.T) {
	cp := fleettest.StartControlPlane(t, fleettest.FastConfig(t))
	c := costClient(t, cp)
	ctx := context.Background()
	if _, err := c.SetPrices(ctx, &fleetv1.SetPricesRequest{Prices: costPrices}); err != nil {
		t.Fatal(err)
	}
	daily := fleetv1.BudgetPeriod_BUDGET_PERIOD_DAILY
	for _, tc := range []struct {
		name  string
		call  func() error
		code  codes.Code
		field string
	}{
		{"negative spot", func() error {
			_, err := c.SetPrices(ctx, &fleetv1.SetPricesRequest{Prices: &fleetv1.Prices{Instances: []*fleetv1.InstancePrice{{InstanceType: "x", SpotHourly: -1}}}})
			return err
		}, codes.InvalidArgument, "instances[x].spot_hourly"},
		{"negative model price", func() error {
			_, err := c.SetPrices(ctx, &fleetv1.SetPricesRequest{Prices: &fleetv1.Prices{Models: []*fleetv1.ModelPrice{{Model: "m", OutputPerMtok: -3}}}})
			return err
		}, codes.InvalidArgument, "models[m].output_per_mtok"},
		{"duplicate instance", func() error {
			_, err := c.SetPrices(ctx, &fleetv1.SetPricesRequest{Prices: &fleetv1.Prices{Instances: []*fleetv1.InstancePrice{{InstanceType: "x"}, {InstanceType: "x"}}}})
			return err
		}, codes.InvalidArgument, "prices.instances[1].instance_type"},
		{"no period", func() error {
			_, err := c.SetBudget(ctx, &fleetv1.SetBudgetRequest{Budget: &fleetv1.Budget{Name: "b", LimitUsd: 1}})
			return err
		}, codes.InvalidArgument, "budget.period"},
		{"threshold over 10", func() error {
			_, err := c.SetBudget(ctx, &fleetv1.SetBudgetRequest{Budget: &fleetv1.Budget{Name: "b", Period: daily, LimitUsd: 1, Thresholds: []float64{0.5, 11}}})
			return err
		}, codes.InvalidArgument, "budget.thresholds[1]"},
		{"threshold 0", func() error {
			_, err := c.SetBudget(ctx, &fleetv1.SetBudgetRequest{Budget: &fleetv1.Budget{Name: "b", Period: daily, LimitUsd: 1, Thresholds: []float64{0}}})
			return err
		}, codes.InvalidArgument, "budget.thresholds[0]"},
		{"bad zone", func() error {
			_, err := c.SetBudget(ctx, &fleetv1.SetBudgetRequest{Budget: &fleetv1.Budget{Name: "b", Period: daily, LimitUsd: 1, TimeZone: "Mars/Olympus"}})
			return err
		}, codes.InvalidArgument, "budget.time_zone"},
		{"bad name", func() error {
			_, err := c.SetBudget(ctx, &fleetv1.SetBudgetRequest{Budget: &fleetv1.Budget{Name: "a b", Period: daily, LimitUsd: 1}})
			return err
		}, codes.InvalidArgument, "budget.name"},
		{"missing budget", func() error { _, err := c.SetBudget(ctx, &fleetv1.SetBudgetRequest{}); return err }, codes.InvalidArgument, "budget"},
		{"delete unknown", func() error { _, err := c.DeleteBudget(ctx, &fleetv1.DeleteBudgetRequest{Name: "nope"}); return err }, codes.NotFound, "nope"},
		{"report range inverted", func() error {
			_, err := c.GetReport(ctx, &fleetv1.GetReportRequest{Start: timestamppb.Now(), End: timestamppb.New(time.Now().Add(-time.Hour))})
			return err
		}, codes.InvalidArgument, "start"},
		{"report grouping", func() error {
			_, err := c.GetReport(ctx, &fleetv1.GetReportRequest{GroupBy: 99})
			return err
		}, codes.InvalidArgument, "group_by"},
		{"unknown recommendation", func() error {
			_, err := c.UpdateRecommendation(ctx, &fleetv1.UpdateRecommendationRequest{Id: "idle:x", State: fleetv1.RecommendationState_RECOMMENDATION_STATE_DONE})
			return err
		}, codes.NotFound, "idle:x"},
		{"recommendation state", func() error {
			_, err := c.UpdateRecommendation(ctx, &fleetv1.UpdateRecommendationRequest{Id: "idle:x"})
			return err
		}, codes.InvalidArgument, "state"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if status.Code(err) != tc.code || !strings.Contains(status.Convert(err).Message(), tc.field) {
				t.Fatalf("got %v; want %s naming %q", err, tc.code, tc.field)
			}
		})
	}
	p, err := c.GetPrices(ctx, &fleetv1.GetPricesRequest{})
	if err != nil || len(p.GetPrices().GetInstances()) != 1 || p.GetPrices().GetInstances()[0].GetInstanceType() != "m.test" {
		t.Fatalf("prices changed by refused calls: %v %v", p, err)
	}
	bs, err := c.ListBudgets(ctx, &fleetv1.ListBudgetsRequest{})
	if err != nil || len(bs.GetBudgets()) != 0 {
		t.Fatalf("budgets stored by refused calls: %v %v", bs, err)
	}
}

// shiftedClock runs from 10:30 UTC on a fixed day at real speed, so forecasts do not depend on
// the hour the test runs at.
func shiftedClock() func() time.Time {
	base, start := time.Date(2026, 11, 27, 10, 30, 0, 0, time.UTC), time.Now()
	return func() time.Time { return base.Add(time.Since(start)) }
}

// costSteps returns how many cost steps the reconcile loop has finished, from /metrics.
func costSteps(t *testing.T, cp *fleettest.ControlPlane) int {
	t.Helper()
	const series = `dspyfleet_reconcile_step_seconds_count{step="cost"} `
	for line := range strings.Lines(scrape(t, cp)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), series); ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				t.Fatalf("/metrics: %s: %v", strings.TrimSpace(line), err)
			}
			return n
		}
	}
	return 0
}

// budgetEvents returns the events of budget name, oldest first, as "kind threshold".
func budgetEvents(t *testing.T, c fleetv1.CostServiceClient, name string) []string {
	t.Helper()
	resp, err := c.ListBudgets(context.Background(), &fleetv1.ListBudgetsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i := len(resp.GetEvents()) - 1; i >= 0; i-- {
		if e := resp.GetEvents()[i]; e.GetBudget() == name {
			out = append(out, fmt.Sprintf("%s %g", e.GetKind(), e.GetThreshold()))
		}
	}
	return out
}

// TestBudgetAlerts: a program budget's thresholds fire exactly once each as spend crosses them
// (further traffic and reconcile ticks fire nothing again), and a separate budget's forecast
// alert fires once when a rising run rate projects past its limit.
func TestBudgetAlerts(t *testing.T) {
	clock := shiftedClock()
	cfg := fleettest.FastConfig(t)
	cfg.Now = clock
	cp := fleettest.StartControlPlane(t, cfg)
	c := costClient(t, cp)
	ctx := context.Background()
	if _, err := c.SetPrices(ctx, &fleetv1.SetPricesRequest{Prices: costPrices}); err != nil {
		t.Fatal(err)
	}
	daily := fleetv1.BudgetPeriod_BUDGET_PERIOD_DAILY
	// sum: 1.3 USD a request against 5.2: 50 % at 2 requests, 80 % at 4 (4.16 needs 4), 100 % at 4.
	if _, err := c.SetBudget(ctx, &fleetv1.SetBudgetRequest{Budget: &fleetv1.Budget{Name: "sum-daily", Period: daily, LimitUsd: 5.2, Program: "sum", Thresholds: []float64{0.5, 0.8, 1}}}); err != nil {
		t.Fatal(err)
	}
	// fc: forecast only. At 10:30 the run rate counts from 09:00: spend S projects to
	// S + S/1.5 h × 13.5 h = 10 S. 1.3 → 13 (under 20); 3.9 → 39 (over).
	if _, err := c.SetBudget(ctx, &fleetv1.SetBudgetRequest{Budget: &fleetv1.Budget{Name: "fc", Period: daily, LimitUsd: 20, Program: "fc", Thresholds: []float64{10}}}); err != nil {
		t.Fatal(err)
	}
	a := connectCostAgent(t, cp, &fleetv1.Hello{NodeId: "w1", Pool: "web"}, clock)
	waitEvents := func(name string, want ...string) {
		t.Helper()
		fleettest.Eventually(t, 10*time.Second, fmt.Sprintf("%s events %v", name, want), func() bool {
			return strings.Join(budgetEvents(t, c, name), ",") == strings.Join(want, ",")
		})
	}
	// settled waits until a cost step has evaluated the budgets at the spend given by name, and
	// then for two more cost steps: an event that spend or a later tick would fire is in.
	settled := func(spend map[string]float64) {
		t.Helper()
		fleettest.Eventually(t, 10*time.Second, fmt.Sprintf("a cost step to evaluate spend %v", spend), func() bool {
			resp, err := c.ListBudgets(ctx, &fleetv1.ListBudgetsRequest{})
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, b := range resp.GetBudgets() {
				if want, ok := spend[b.GetBudget().GetName()]; ok && near(b.GetSpendUsd(), want) {
					n++
				}
			}
			return n == len(spend)
		})
		steps := costSteps(t, cp)
		fleettest.Eventually(t, 10*time.Second, "two more cost steps", func() bool { return costSteps(t, cp) >= steps+2 })
	}
	a.send(tableReq("sum"), tableReq("sum"), tableReq("fc"))
	// 2.6 USD spent by 10:30 projects far past 5.2: the forecast fires with the first threshold.
	waitEvents("sum-daily", "threshold 0.5", "forecast 0")
	a.send(tableReq("sum"))
	settled(map[string]float64{"sum-daily": 3 * 1.3, "fc": 1.3})
	if got := budgetEvents(t, c, "sum-daily"); strings.Join(got, ",") != "threshold 0.5,forecast 0" {
		t.Fatalf("at 3.9 of 5.2 USD: %v", got)
	}
	if got := budgetEvents(t, c, "fc"); len(got) != 0 {
		t.Fatalf("fc fired %v at a low run rate", got)
	}
	a.send(tableReq("sum"), tableReq("fc"), tableReq("fc"))
	waitEvents("sum-daily", "threshold 0.5", "forecast 0", "threshold 0.8", "threshold 1")
	waitEvents("fc", "forecast 0")
	a.send(tableReq("sum"), tableReq("fc"))
	settled(map[string]float64{"sum-daily": 5 * 1.3, "fc": 4 * 1.3})
	if got := budgetEvents(t, c, "sum-daily"); strings.Join(got, ",") != "threshold 0.5,forecast 0,threshold 0.8,threshold 1" {
		t.Fatalf("thresholds fired again: %v", got)
	}
	if got := budgetEvents(t, c, "fc"); strings.Join(got, ",") != "forecast 0" {
		t.Fatalf("forecast fired again: %v", got)
	}
	resp, err := c.ListBudgets(ctx, &fleetv1.ListBudgetsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range resp.GetBudgets() {
		if b.GetBudget().GetName() == "sum-daily" && (!near(b.GetSpendUsd(), 5*1.3) || len(b.GetFiredThresholds()) != 3 || !b.GetPeriodEnd().AsTime().Equal(time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC))) {
			t.Fatalf("sum-daily status %v", b)
		}
	}
	if _, err := c.DeleteBudget(ctx, &fleetv1.DeleteBudgetRequest{Name: "fc"}); err != nil {
		t.Fatal(err)
	}
}

// TestRecommendations: an on-demand node of an interruption-tolerant pool gets the spot
// recommendation with its savings, a node using 10 % CPU and 20 % memory a smaller instance type
// (from its sampled reports), a model with a cheaper alternative the cheaper-model one;
// dismissing and marking done hide them (include_closed shows them) and survive a restart.
func TestRecommendations(t *testing.T) {
	cfg := fleettest.FastConfig(t)
	cp := fleettest.StartControlPlane(t, cfg)
	c := costClient(t, cp)
	ctx := context.Background()
	prices := &fleetv1.Prices{
		Instances: []*fleetv1.InstancePrice{
			costPrices.GetInstances()[0],
			{InstanceType: "m.small", OnDemandHourly: 18, SpotHourly: 6, Vcpus: 2, MemoryGib: 8},
			{InstanceType: "m.tiny", OnDemandHourly: 9, Vcpus: 1, MemoryGib: 2},
		},
		Models: []*fleetv1.ModelPrice{
			{Model: "table", InputPerMtok: 10, OutputPerMtok: 30, Alternative: "cheap"},
			{Model: "cheap", InputPerMtok: 1, OutputPerMtok: 3},
		},
	}
	if _, err := c.SetPrices(ctx, &fleetv1.SetPricesRequest{Prices: prices}); err != nil {
		t.Fatal(err)
	}
	a := connectCostAgent(t, cp, &fleetv1.Hello{NodeId: "b1", Pool: "batch", InstanceType: "m.test", Labels: map[string]string{"interruption-tolerant": "true"}}, time.Now)
	a.send(tableReq("sum"))
	var recs *fleetv1.ListRecommendationsResponse
	fleettest.Eventually(t, 10*time.Second, "spot, right-size and cheaper-model recommendations", func() bool {
		var err error
		recs, err = c.ListRecommendations(ctx, &fleetv1.ListRecommendationsRequest{})
		return err == nil && len(recs.GetRecommendations()) == 3
	})
	byID := map[string]*fleetv1.Recommendation{}
	for _, r := range recs.GetRecommendations() {
		byID[r.GetId()] = r
	}
	spot := byID["spot:batch"]
	if spot == nil || !near(spot.GetMonthlySavingsUsd(), (36-12)*730) || spot.GetState() != fleetv1.RecommendationState_RECOMMENDATION_STATE_OPEN || len(spot.GetEvidence()) != 2 {
		t.Fatalf("spot recommendation %v", spot)
	}
	// 4 vCPU at 10 % needs 0.57 at 70 %; 16 GiB at 20 % needs 4 at 80 %: m.small, not m.tiny.
	if rs := byID["right-size:b1"]; rs == nil || !near(rs.GetMonthlySavingsUsd(), (36-18)*730) || !strings.Contains(rs.GetSummary(), "from m.test to m.small") {
		t.Fatalf("right-size recommendation %v", rs)
	}
	if m := byID["cheaper-model:table"]; m == nil || m.GetMonthlySavingsUsd() <= 0 || !strings.Contains(m.GetSummary(), "cheap") {
		t.Fatalf("cheaper-model recommendation %v", m)
	}
	for id, st := range map[string]fleetv1.RecommendationState{
		"spot:batch": fleetv1.RecommendationState_RECOMMENDATION_STATE_DISMISSED, "cheaper-model:table": fleetv1.RecommendationState_RECOMMENDATION_STATE_DONE,
	} {
		r, err := c.UpdateRecommendation(ctx, &fleetv1.UpdateRecommendationRequest{Id: id, State: st, Etag: byID[id].GetEtag()})
		if err != nil || r.GetRecommendation().GetState() != st || r.GetRecommendation().GetEtag() == byID[id].GetEtag() {
			t.Fatalf("update %s: %v %v", id, r, err)
		}
	}
	// A second operator who read the spot recommendation before it was dismissed gets the
	// conflict instead of reopening it unseen; the state stays dismissed.
	_, err := c.UpdateRecommendation(ctx, &fleetv1.UpdateRecommendationRequest{Id: "spot:batch",
		State: fleetv1.RecommendationState_RECOMMENDATION_STATE_OPEN, Etag: byID["spot:batch"].GetEtag()})
	if status.Code(err) != codes.Aborted || !strings.Contains(err.Error(), "changed since it was read") {
		t.Fatalf("update with a stale etag: %v, want Aborted with how to retry", err)
	}
	cp.Stop(t)
	cfg.GRPCListen, cfg.HTTPListen = "127.0.0.1:0", "127.0.0.1:0"
	cp = fleettest.StartControlPlane(t, cfg)
	c = costClient(t, cp)
	fleettest.Eventually(t, 10*time.Second, "recommendations after the restart", func() bool {
		all, err := c.ListRecommendations(ctx, &fleetv1.ListRecommendationsRequest{IncludeClosed: true})
		return err == nil && len(all.GetRecommendations()) == 3
	})
	openRecs, err := c.ListRecommendations(ctx, &fleetv1.ListRecommendationsRequest{})
	if err != nil || len(openRecs.GetRecommendations()) != 1 || !near(openRecs.GetMonthlySavingsUsd(), (36-18)*730) {
		t.Fatalf("closed recommendations still listed: %v %v", openRecs, err)
	}
}

// TestPricesFromConfigFile: the configuration file's cost_prices seed an empty store; a table
// set through the API afterwards survives a restart with the same file; a negative price in the
// file stops the start naming the field.
func TestPricesFromConfigFile(t *testing.T) {
	cfg := fleettest.FastConfig(t)
	path := filepath.Join(t.TempDir(), "controlplane.yaml")
	write := func(body string) {
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(`cost_prices:
  instances:
    m7i.xlarge: {on_demand_hourly: 0.2016, spot_hourly: 0.08, vcpus: 4, memory_gib: 16}
  models:
    openai/gpt-4o: {input_per_mtok: 2.5, output_per_mtok: 10, alternative: openai/gpt-4o-mini}
    openai/gpt-4o-mini: {input_per_mtok: 0.15, output_per_mtok: 0.6}
`)
	if err := controlplane.LoadFile(path, &cfg); err != nil {
		t.Fatal(err)
	}
	cp := fleettest.StartControlPlane(t, cfg)
	c := costClient(t, cp)
	ctx := context.Background()
	p, err := c.GetPrices(ctx, &fleetv1.GetPricesRequest{})
	if err != nil || len(p.GetPrices().GetInstances()) != 1 || p.GetPrices().GetModels()[0].GetAlternative() != "openai/gpt-4o-mini" {
		t.Fatalf("seeded prices %v %v", p, err)
	}
	if _, err := c.SetPrices(ctx, &fleetv1.SetPricesRequest{Prices: costPrices}); err != nil {
		t.Fatal(err)
	}
	cp.Stop(t)
	cfg.GRPCListen, cfg.HTTPListen = "127.0.0.1:0", "127.0.0.1:0"
	cp = fleettest.StartControlPlane(t, cfg)
	p, err = costClient(t, cp).GetPrices(ctx, &fleetv1.GetPricesRequest{})
	if err != nil || p.GetPrices().GetInstances()[0].GetInstanceType() != "m.test" {
		t.Fatalf("the API's table was replaced by the file's: %v %v", p, err)
	}

	write("cost_prices:\n  instances:\n    m.bad: {on_demand_hourly: 1, spot_hourly: -1}\n")
	bad := fleettest.FastConfig(t)
	if err := controlplane.LoadFile(path, &bad); err != nil {
		t.Fatal(err)
	}
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "cost_prices: instances[m.bad].spot_hourly") {
		t.Fatalf("Validate = %v", err)
	}
}
