package sim

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// Report is what a simulation shows at its end.
type Report struct {
	Pattern  string        `json:"pattern"`
	Agents   int           `json:"agents"`
	Pool     string        `json:"pool"`
	Duration time.Duration `json:"duration_ns"`
	Interval time.Duration `json:"interval_ns"`
	// ReadyAfter is how long the fleet took to become routable.
	ReadyAfter time.Duration `json:"ready_after_ns"`

	CapacityRPS float64 `json:"capacity_rps"`
	PeakRPS     float64 `json:"peak_rps"`

	Nodes    NodeCounts    `json:"nodes"`
	Requests RequestCounts `json:"requests"`
	Cost     Cost          `json:"cost"`
	// Scaling is absent when the control plane has no ScalingService.
	Scaling  *Scaling          `json:"scaling,omitempty"`
	Routing  Routing           `json:"routing"`
	Savings  *Savings          `json:"savings,omitempty"`
	Commands map[string]uint64 `json:"commands,omitempty"`
	// Reconnects counts sessions beyond each agent's first.
	Reconnects uint64 `json:"reconnects"`
}

// NodeCounts is the pool's nodes at the end, as the control plane sees them.
type NodeCounts struct {
	Total   int            `json:"total"`
	Ready   int            `json:"ready"`
	ByState map[string]int `json:"by_state"`
	// Fresh counts nodes whose last report is at most two intervals old.
	Fresh int `json:"fresh"`
}

// RequestCounts is the traffic sent and what the control plane learned of it.
type RequestCounts struct {
	Total       uint64  `json:"total"`
	Successes   uint64  `json:"successes"`
	Errors      uint64  `json:"errors"`
	Unrouted    uint64  `json:"unrouted"`
	SuccessRate float64 `json:"success_rate"`
	Picks       uint64  `json:"picks"`
	PerPick     int     `json:"requests_per_pick"`
	Behind      uint64  `json:"picks_behind"`
	LatencyP50  float64 `json:"latency_p50_ms"`
	LatencyP99  float64 `json:"latency_p99_ms"`
	// Reported is the requests the agents' reports carried to the control plane (GetPoolStats).
	Reported   uint64            `json:"reported"`
	PickErrors map[string]uint64 `json:"pick_errors,omitempty"`
}

// Cost is what the run cost.
type Cost struct {
	HostHours float64 `json:"host_hours"`
	HostUSD   float64 `json:"host_usd"`
	TokenUSD  float64 `json:"token_usd"`
	SavedUSD  float64 `json:"cache_saved_usd"`
	TotalUSD  float64 `json:"total_usd"`
	// PerDayUSD is the hosts' cost for a day at this fleet size.
	PerDayUSD float64 `json:"hosts_per_day_usd"`
	// Source names where the figures come from: the CostService, or the pool's request stats and
	// the hosts' announced prices when the CostService does not answer.
	Source string `json:"source"`
}

// Scaling is the control plane's scaling decisions during the run, with their reasons.
type Scaling struct {
	Decisions []ScalingDecision `json:"decisions"`
}

// ScalingDecision is one decision of the autoscaler.
type ScalingDecision struct {
	Time    time.Time `json:"time"`
	Current uint32    `json:"current"`
	Desired uint32    `json:"desired"`
	Reason  string    `json:"reason"`
}

// Routing is how routing spread the picks over the nodes.
type Routing struct {
	Strategy string  `json:"strategy"`
	Nodes    int     `json:"nodes_picked"`
	Min      uint64  `json:"min"`
	Mean     float64 `json:"mean"`
	Max      uint64  `json:"max"`
	// CV is the coefficient of variation of picks per node (standard deviation over mean).
	CV float64 `json:"cv"`
}

// Savings is the cost recommendations open at the end.
type Savings struct {
	MonthlyUSD      float64          `json:"monthly_usd"`
	Recommendations []Recommendation `json:"recommendations"`
}

// Recommendation is one way to save.
type Recommendation struct {
	Kind       string  `json:"kind"`
	Subject    string  `json:"subject"`
	Summary    string  `json:"summary"`
	MonthlyUSD float64 `json:"monthly_usd"`
}

// gather builds the report from the traffic's counts and the control plane's view.
func gather(ctx context.Context, conn grpc.ClientConnInterface, o Options, fleet *Fleet, ts TrafficStats, start, trafficStart time.Time, capacity float64) (*Report, error) {
	now := time.Now()
	r := &Report{
		Pattern: o.Pattern, Agents: o.Agents, Pool: o.Pool, Duration: o.Duration, Interval: o.Interval,
		ReadyAfter: trafficStart.Sub(start), CapacityRPS: capacity, PeakRPS: o.PeakRPS,
		Requests: RequestCounts{
			Total: ts.Requests, Successes: ts.Successes, Errors: ts.Errors, Unrouted: ts.Unrouted,
			Picks: ts.Picks, PerPick: ts.PerPick, Behind: ts.Behind, PickErrors: ts.PickErrors,
		},
	}
	if ts.Requests > 0 {
		r.Requests.SuccessRate = float64(ts.Successes) / float64(ts.Requests)
	}
	if ts.Latency.Count() > 0 {
		r.Requests.LatencyP50, r.Requests.LatencyP99 = ts.Latency.Quantile(0.5), ts.Latency.Quantile(0.99)
	}
	fc := fleetv1.NewFleetServiceClient(conn)
	var nodes []*fleetv1.Node
	for req := (&fleetv1.ListNodesRequest{Pool: o.Pool, PageSize: 1000}); ; {
		page, err := fc.ListNodes(ctx, req)
		if err != nil {
			return nil, fmt.Errorf("list nodes: %w", err)
		}
		nodes = append(nodes, page.GetNodes()...)
		if page.GetNextPageToken() == "" {
			break
		}
		req.PageToken = page.GetNextPageToken()
	}
	r.Nodes = countNodes(nodes, now, o.Interval)
	window := (now.Sub(start) + time.Minute).Truncate(time.Minute) + time.Minute
	stats, err := fc.GetPoolStats(ctx, &fleetv1.GetPoolStatsRequest{Pool: o.Pool, Window: durationpb.New(window)})
	if err != nil {
		return nil, fmt.Errorf("pool stats: %w", err)
	}
	r.Requests.Reported = stats.GetPool().GetRequests()
	r.Cost = localCost(o, now.Sub(start), stats.GetPool())
	if c, ok, err := serviceCost(ctx, conn, o.Pool, start, now); err != nil {
		return nil, err
	} else if ok {
		c.PerDayUSD = r.Cost.PerDayUSD
		r.Cost = c
	}
	if r.Savings, err = savings(ctx, conn); err != nil {
		return nil, err
	}
	if r.Scaling, err = scalingDecisions(ctx, conn, o.Pool, start); err != nil {
		return nil, err
	}
	st, err := fleetv1.NewRoutingServiceClient(conn).GetStatus(ctx, &fleetv1.RoutingServiceGetStatusRequest{Pool: o.Pool})
	if err != nil {
		return nil, fmt.Errorf("routing status: %w", err)
	}
	r.Routing = spread(fleet)
	r.Routing.Strategy = strings.ToLower(strings.TrimPrefix(st.GetStrategy().String(), "STRATEGY_"))
	r.Commands = map[string]uint64{}
	for _, a := range fleet.Agents() {
		r.Reconnects += max(a.Sessions(), 1) - 1
		for k, n := range a.Executed() {
			r.Commands[strings.ToLower(strings.TrimPrefix(k.String(), "COMMAND_KIND_"))] += n
		}
	}
	return r, nil
}

// countNodes counts nodes by state and freshness.
func countNodes(nodes []*fleetv1.Node, now time.Time, interval time.Duration) NodeCounts {
	c := NodeCounts{Total: len(nodes), ByState: map[string]int{}}
	for _, n := range nodes {
		c.ByState[strings.ToLower(strings.TrimPrefix(n.GetState().String(), "NODE_STATE_"))]++
		if n.GetState() == fleetv1.NodeState_NODE_STATE_READY {
			c.Ready++
		}
		if now.Sub(n.GetLastSeen().AsTime()) <= 2*interval {
			c.Fresh++
		}
	}
	return c
}

// localCost prices the run from the hosts' announced price and the pool's request stats.
func localCost(o Options, wall time.Duration, pool *fleetv1.RequestStats) Cost {
	hours := float64(o.Agents) * wall.Hours()
	c := Cost{
		HostHours: hours, HostUSD: hours * o.HourlyPrice, TokenUSD: pool.GetCostUsd(), SavedUSD: pool.GetSavedUsd(),
		PerDayUSD: float64(o.Agents) * o.HourlyPrice * 24, Source: "announced host prices and pool request stats",
	}
	c.TotalUSD = c.HostUSD + c.TokenUSD
	return c
}

// serviceCost asks the CostService for the pool's cost over the run; ok is false when the
// control plane has no CostService.
func serviceCost(ctx context.Context, conn grpc.ClientConnInterface, pool string, start, end time.Time) (Cost, bool, error) {
	resp, err := fleetv1.NewCostServiceClient(conn).GetReport(ctx, &fleetv1.GetReportRequest{
		Start: timestamppb.New(start), End: timestamppb.New(end), GroupBy: fleetv1.CostGroupBy_COST_GROUP_BY_POOL, Pool: pool,
	})
	if status.Code(err) == codes.Unimplemented {
		return Cost{}, false, nil
	}
	if err != nil {
		return Cost{}, false, fmt.Errorf("cost report: %w", err)
	}
	t := resp.GetTotal()
	return Cost{
		HostHours: t.GetHostHours(), HostUSD: t.GetHostUsd(), TokenUSD: t.GetTokenUsd(), SavedUSD: t.GetSavedUsd(),
		TotalUSD: t.GetTotalUsd(), Source: "CostService",
	}, true, nil
}

// savings lists the open cost recommendations, every page; nil when the control plane has no
// CostService.
func savings(ctx context.Context, conn grpc.ClientConnInterface) (*Savings, error) {
	client := fleetv1.NewCostServiceClient(conn)
	var s *Savings
	for token := ""; ; {
		resp, err := client.ListRecommendations(ctx, &fleetv1.ListRecommendationsRequest{PageToken: token})
		if status.Code(err) == codes.Unimplemented {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("cost recommendations: %w", err)
		}
		if s == nil {
			s = &Savings{MonthlyUSD: resp.GetMonthlySavingsUsd(), Recommendations: []Recommendation{}}
		}
		for _, rec := range resp.GetRecommendations() {
			s.Recommendations = append(s.Recommendations, Recommendation{
				Kind: rec.GetKind(), Subject: rec.GetSubject(), Summary: rec.GetSummary(), MonthlyUSD: rec.GetMonthlySavingsUsd(),
			})
		}
		if token = resp.GetNextPageToken(); token == "" {
			return s, nil
		}
	}
}

// spread summarizes picks per node over the fleet's agents.
func spread(f *Fleet) Routing {
	var r Routing
	var sum, sq float64
	r.Min = math.MaxUint64
	for _, a := range f.Agents() {
		p := a.Picks()
		if p > 0 {
			r.Nodes++
		}
		r.Min, r.Max = min(r.Min, p), max(r.Max, p)
		sum += float64(p)
		sq += float64(p) * float64(p)
	}
	n := float64(len(f.Agents()))
	r.Mean = sum / n
	if r.Mean > 0 {
		r.CV = math.Sqrt(max(sq/n-r.Mean*r.Mean, 0)) / r.Mean
	}
	return r
}

// WriteText prints the report for a person.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	p := func(label, format string, args ...any) {
		fmt.Fprintf(&b, "%-12s %s\n", label, fmt.Sprintf(format, args...))
	}
	fmt.Fprintf(&b, "dspyfleet simulation: %d agents in pool %s, %s pattern over %s, a report every %s\n\n",
		r.Agents, r.Pool, r.Pattern, r.Duration, r.Interval)
	p("Capacity", "%.0f requests/s (%d nodes); peak offered %.0f requests/s; fleet ready in %s",
		r.CapacityRPS, r.Agents, r.PeakRPS, r.ReadyAfter.Round(time.Millisecond))
	p("Healthy", "%d of %d nodes ready, %d with a report at most 2 intervals old (%s)", r.Nodes.Ready, r.Nodes.Total, r.Nodes.Fresh, states(r.Nodes.ByState))
	q := r.Requests
	p("Requests", "%d sent, %d succeeded, %d failed (%d unrouted): %.2f %% success", q.Total, q.Successes, q.Errors, q.Unrouted, 100*q.SuccessRate)
	p("", "latency p50 %.0f ms, p99 %.0f ms (first request of each pick); %d picks of %d requests each; agents reported %d requests", q.LatencyP50, q.LatencyP99, q.Picks, q.PerPick, q.Reported)
	if q.Behind > 0 {
		p("", "%d picks were not sent: the driver fell behind (raise --max-picks or lower --rps)", q.Behind)
	}
	for msg, n := range q.PickErrors {
		p("", "%d picks failed: %s", n, msg)
	}
	c := r.Cost
	p("Cost", "$%.4f: hosts $%.4f (%.3f host-hours), tokens $%.4f, cache saved $%.4f; hosts cost $%.2f a day at this size [%s]",
		c.TotalUSD, c.HostUSD, c.HostHours, c.TokenUSD, c.SavedUSD, c.PerDayUSD, c.Source)
	if r.Scaling != nil {
		p("Scaling", "%d decisions", len(r.Scaling.Decisions))
		for _, d := range r.Scaling.Decisions {
			p("", "%s %d → %d: %s", d.Time.Format(time.TimeOnly), d.Current, d.Desired, d.Reason)
		}
	}
	rt := r.Routing
	p("Routing", "%s: picks per node min %d, mean %.1f, max %d, CV %.3f; %d of %d nodes picked", rt.Strategy, rt.Min, rt.Mean, rt.Max, rt.CV, rt.Nodes, r.Agents)
	if r.Savings != nil {
		p("Savings", "$%.2f a month in %d open recommendations", r.Savings.MonthlyUSD, len(r.Savings.Recommendations))
		for _, rec := range r.Savings.Recommendations {
			p("", "%s %s: %s ($%.2f a month)", rec.Kind, rec.Subject, rec.Summary, rec.MonthlyUSD)
		}
	}
	if len(r.Commands) > 0 {
		p("Commands", "%s", states(r.Commands))
	}
	p("Reconnects", "%d", r.Reconnects)
	_, err := io.WriteString(w, b.String())
	return err
}

// states prints a count map as "a 1, b 2", by name.
func states[N int | uint64](m map[string]N) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, cmp.Compare)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}
