package cost

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"
)

// Kind is a recommendation's kind.
type Kind string

// The recommendation kinds.
const (
	KindRightSize    Kind = "right-size"
	KindIdle         Kind = "idle"
	KindSpot         Kind = "spot"
	KindReserved     Kind = "reserved"
	KindCaching      Kind = "caching"
	KindCheaperModel Kind = "cheaper-model"
)

// Recommendation is one way to save, with its evidence and estimated monthly savings.
type Recommendation struct {
	// ID is "<kind>:<subject>", stable across evaluations so a dismissal sticks.
	ID      string
	Kind    Kind
	Subject string // a node, a pool, a pool/instance type, a program or a model
	Pool    string
	Summary string
	// Evidence lists the figures the recommendation rests on.
	Evidence          []string
	MonthlySavingsUSD float64
}

// RecConfig sets the thresholds of the recommendations.
type RecConfig struct {
	// Window is the span the evidence covers; savings over it are scaled to HoursPerMonth.
	Window time.Duration
	// A node whose p95 CPU and memory (percent) are both under RightSizeCPU and RightSizeMem is
	// offered the cheapest type that keeps them under TargetCPU and TargetMem.
	RightSizeCPU, RightSizeMem, TargetCPU, TargetMem float64
	// A node up for at least IdleMinHours serving under IdleRequestsPerHour is idle.
	IdleRequestsPerHour, IdleMinHours float64
	// ReservedMinHours is the history needed before a baseline is called steady.
	ReservedMinHours int
	// A program with at least CacheMinRequests, some cache hits (its keys repeat) and a hit
	// ratio under CacheLowRatio is offered caching, estimated at CacheTargetRatio.
	CacheMinRequests                uint64
	CacheLowRatio, CacheTargetRatio float64
	// MinMonthlySavingsUSD drops recommendations worth less.
	MinMonthlySavingsUSD float64
}

// DefaultRecConfig returns the default thresholds over a 7-day window.
func DefaultRecConfig() RecConfig {
	return RecConfig{
		Window:       7 * 24 * time.Hour,
		RightSizeCPU: 40, RightSizeMem: 50, TargetCPU: 70, TargetMem: 80,
		IdleRequestsPerHour: 1, IdleMinHours: 24,
		ReservedMinHours: 7 * 24,
		CacheMinRequests: 1000, CacheLowRatio: 0.2, CacheTargetRatio: 0.4,
		MinMonthlySavingsUSD: 1,
	}
}

// monthly scales an amount over the window to a month.
func (c RecConfig) monthly(usd float64) float64 {
	h := c.Window.Hours()
	if h <= 0 {
		return 0
	}
	return usd * HoursPerMonth / h
}

// NodeUsage is one node's evidence over the window.
type NodeUsage struct {
	Node, Pool string
	Host       Host
	// CPUP95 and MemP95 are the 95th percentiles of CPU and memory use, in percent; HaveUsage
	// is false when no sample was taken.
	CPUP95, MemP95 float64
	HaveUsage      bool
	Requests       uint64
	UpHours        float64
	// Tolerant marks a node of an interruption-tolerant pool, which may run on spot.
	Tolerant bool
}

// Baseline is the on-demand up time of one pool's nodes of one instance type in each hour of the
// window, in node-hours (3 nodes up all hour = 3).
type Baseline struct {
	Pool, InstanceType string
	NodeHours          []float64
}

// ProgramUsage is one program's request figures over the window; CostUSD is what its misses cost.
type ProgramUsage struct {
	Program                          string
	Requests, CacheHits, CacheMisses uint64
	CostUSD                          float64
}

// ModelUsage is one model's tokens and cost over the window.
type ModelUsage struct {
	Model                     string
	InputTokens, OutputTokens uint64
	CostUSD                   float64
}

// Evidence is everything recommendations are drawn from.
type Evidence struct {
	Nodes     []NodeUsage
	Baselines []Baseline
	Programs  []ProgramUsage
	Models    []ModelUsage
}

// Recommend returns every recommendation worth at least cfg.MinMonthlySavingsUSD, most savings
// first.
func Recommend(ev Evidence, t Table, cfg RecConfig) []Recommendation {
	var out []Recommendation
	out = append(out, RightSize(ev.Nodes, t, cfg)...)
	out = append(out, Idle(ev.Nodes, t, cfg)...)
	out = append(out, SpotFor(ev.Nodes, t)...)
	out = append(out, ReservedFor(ev.Baselines, t, cfg)...)
	out = append(out, Caching(ev.Programs, cfg)...)
	out = append(out, CheaperModels(ev.Models, t, cfg)...)
	out = slices.DeleteFunc(out, func(r Recommendation) bool { return r.MonthlySavingsUSD < cfg.MinMonthlySavingsUSD })
	slices.SortStableFunc(out, func(a, b Recommendation) int {
		return cmp.Or(cmp.Compare(b.MonthlySavingsUSD, a.MonthlySavingsUSD), cmp.Compare(a.ID, b.ID))
	})
	return out
}

func rec(k Kind, subject, pool string, savings float64, summary string, evidence ...string) Recommendation {
	return Recommendation{ID: string(k) + ":" + subject, Kind: k, Subject: subject, Pool: pool, Summary: summary, Evidence: evidence, MonthlySavingsUSD: savings}
}

// isIdle reports whether a node serves next to nothing.
func isIdle(n NodeUsage, cfg RecConfig) bool {
	return n.UpHours >= cfg.IdleMinHours && float64(n.Requests)/n.UpHours < cfg.IdleRequestsPerHour
}

// RightSize offers each busy-enough but oversized node the cheapest instance type of the table
// (same purchase option) whose vCPUs and memory keep its p95 use under the targets. Idle nodes
// get the idle recommendation instead.
func RightSize(nodes []NodeUsage, t Table, cfg RecConfig) []Recommendation {
	var out []Recommendation
	for _, n := range nodes {
		cur, ok := t.Instances[n.Host.InstanceType]
		if !ok || !n.HaveUsage || isIdle(n, cfg) || cur.VCPUs <= 0 || cur.MemoryGiB <= 0 ||
			n.CPUP95 >= cfg.RightSizeCPU || n.MemP95 >= cfg.RightSizeMem {
			continue
		}
		curPrice, err := t.HostHourly(Host{InstanceType: n.Host.InstanceType, Purchase: n.Host.Purchase})
		if err != nil {
			continue
		}
		needCPU := cur.VCPUs * n.CPUP95 / cfg.TargetCPU
		needMem := cur.MemoryGiB * n.MemP95 / cfg.TargetMem
		best, bestPrice := "", curPrice
		for _, name := range slices.Sorted(maps.Keys(t.Instances)) {
			ip := t.Instances[name]
			p, ok := ip.Hourly(n.Host.Purchase)
			if ok && ip.VCPUs >= needCPU && ip.MemoryGiB >= needMem && p < bestPrice {
				best, bestPrice = name, p
			}
		}
		if best == "" {
			continue
		}
		next := t.Instances[best]
		out = append(out, rec(KindRightSize, n.Node, n.Pool, (curPrice-bestPrice)*HoursPerMonth,
			fmt.Sprintf("move node %s from %s to %s", n.Node, n.Host.InstanceType, best),
			fmt.Sprintf("p95 CPU %.1f %% of %g vCPUs, p95 memory %.1f %% of %g GiB over %s", n.CPUP95, cur.VCPUs, n.MemP95, cur.MemoryGiB, cfg.Window),
			fmt.Sprintf("%s has %g vCPUs and %g GiB: p95 stays under %g %% CPU and %g %% memory", best, next.VCPUs, next.MemoryGiB, cfg.TargetCPU, cfg.TargetMem),
			fmt.Sprintf("%s %.4f USD/h instead of %.4f USD/h", n.Host.Purchase, bestPrice, curPrice)))
	}
	return out
}

// Idle offers to remove nodes that served under IdleRequestsPerHour while up, saving their whole
// host cost.
func Idle(nodes []NodeUsage, t Table, cfg RecConfig) []Recommendation {
	var out []Recommendation
	for _, n := range nodes {
		if !isIdle(n, cfg) {
			continue
		}
		hourly, err := t.HostHourly(n.Host)
		if err != nil {
			continue
		}
		out = append(out, rec(KindIdle, n.Node, n.Pool, hourly*HoursPerMonth,
			fmt.Sprintf("node %s is idle: drain and remove it", n.Node),
			fmt.Sprintf("%d requests in %.1f hours up (under %g per hour)", n.Requests, n.UpHours, cfg.IdleRequestsPerHour),
			fmt.Sprintf("host cost %.4f USD/h", hourly)))
	}
	return out
}

// SpotFor offers each interruption-tolerant pool spot pricing for its on-demand nodes whose type
// has a cheaper spot price, summed per pool.
func SpotFor(nodes []NodeUsage, t Table) []Recommendation {
	type acc struct {
		savings float64
		nodes   []string
	}
	pools := map[string]*acc{}
	for _, n := range nodes {
		ip, ok := t.Instances[n.Host.InstanceType]
		if !n.Tolerant || !ok || n.Host.Purchase != OnDemand || n.Host.ExplicitHourly > 0 {
			continue
		}
		spot, ok := ip.Hourly(Spot)
		if !ok || spot >= ip.OnDemandHourly {
			continue
		}
		a := pools[n.Pool]
		if a == nil {
			a = &acc{}
			pools[n.Pool] = a
		}
		a.savings += (ip.OnDemandHourly - spot) * HoursPerMonth
		a.nodes = append(a.nodes, fmt.Sprintf("%s (%s: %.4f on-demand, %.4f spot USD/h)", n.Node, n.Host.InstanceType, ip.OnDemandHourly, spot))
	}
	var out []Recommendation
	for _, pool := range slices.Sorted(maps.Keys(pools)) {
		a := pools[pool]
		out = append(out, rec(KindSpot, pool, pool, a.savings,
			fmt.Sprintf("run interruption-tolerant pool %s on spot (%d nodes)", pool, len(a.nodes)),
			append([]string{"the pool is marked interruption-tolerant"}, a.nodes...)...))
	}
	return out
}

// ReservedFor offers reserved pricing for the steady baseline: the node count of an instance
// type a pool kept up on demand in every hour of at least ReservedMinHours.
func ReservedFor(bs []Baseline, t Table, cfg RecConfig) []Recommendation {
	var out []Recommendation
	for _, b := range bs {
		ip, ok := t.Instances[b.InstanceType]
		if !ok || len(b.NodeHours) < cfg.ReservedMinHours || len(b.NodeHours) == 0 {
			continue
		}
		res, ok := ip.Hourly(Reserved)
		if !ok || res >= ip.OnDemandHourly {
			continue
		}
		base := math.Floor(slices.Min(b.NodeHours) + 1e-9)
		if base < 1 {
			continue
		}
		subject := b.Pool + "/" + b.InstanceType
		out = append(out, rec(KindReserved, subject, b.Pool, base*(ip.OnDemandHourly-res)*HoursPerMonth,
			fmt.Sprintf("reserve %g %s for pool %s", base, b.InstanceType, b.Pool),
			fmt.Sprintf("at least %g on-demand %s nodes up in every one of the last %d hours (peak %.1f)", base, b.InstanceType, len(b.NodeHours), slices.Max(b.NodeHours)),
			fmt.Sprintf("%.4f USD/h reserved instead of %.4f USD/h on demand", res, ip.OnDemandHourly)))
	}
	return out
}

// Caching offers better caching to programs whose keys repeat (the cache answers some requests)
// but whose hit ratio is low: raising it to CacheTargetRatio turns that share of misses into
// hits, which cost nothing.
func Caching(ps []ProgramUsage, cfg RecConfig) []Recommendation {
	var out []Recommendation
	for _, p := range ps {
		known := p.CacheHits + p.CacheMisses
		if p.Requests < cfg.CacheMinRequests || p.CacheHits == 0 || known == 0 || p.CostUSD <= 0 {
			continue
		}
		ratio := float64(p.CacheHits) / float64(known)
		if ratio >= cfg.CacheLowRatio || ratio >= cfg.CacheTargetRatio {
			continue
		}
		converted := (cfg.CacheTargetRatio - ratio) / (1 - ratio)
		out = append(out, rec(KindCaching, p.Program, "", cfg.monthly(p.CostUSD*converted),
			fmt.Sprintf("cache more of program %s (hit ratio %.1f %% → %.0f %%)", p.Program, ratio*100, cfg.CacheTargetRatio*100),
			fmt.Sprintf("%d requests, %d cache hits, %d misses over %s: keys repeat but most miss", p.Requests, p.CacheHits, p.CacheMisses, cfg.Window),
			fmt.Sprintf("misses cost %.4f USD over the window", p.CostUSD)))
	}
	return out
}

// CheaperModels offers each model with a configured, cheaper alternative the switch: its token
// cost times the alternative's relative price cut at the same tokens.
func CheaperModels(ms []ModelUsage, t Table, cfg RecConfig) []Recommendation {
	var total float64
	for _, m := range ms {
		total += m.CostUSD
	}
	var out []Recommendation
	for _, m := range ms {
		p, ok := t.Models[m.Model]
		if !ok || p.Alternative == "" || m.CostUSD <= 0 {
			continue
		}
		alt := t.Models[p.Alternative]
		list, altList := p.Cost(m.InputTokens, m.OutputTokens, 0), alt.Cost(m.InputTokens, m.OutputTokens, 0)
		if list <= 0 || altList >= list {
			continue
		}
		cut := 1 - altList/list
		out = append(out, rec(KindCheaperModel, m.Model, "", cfg.monthly(m.CostUSD*cut),
			fmt.Sprintf("try %s instead of %s where quality allows", p.Alternative, m.Model),
			fmt.Sprintf("%s is %.1f %% of token cost (%.4f of %.4f USD over %s)", m.Model, 100*m.CostUSD/total, m.CostUSD, total, cfg.Window),
			fmt.Sprintf("%d input and %d output tokens would cost %.1f %% less at %s prices (%g/%g vs %g/%g USD per million)",
				m.InputTokens, m.OutputTokens, cut*100, p.Alternative, alt.InputPerMTok, alt.OutputPerMTok, p.InputPerMTok, p.OutputPerMTok)))
	}
	return out
}
