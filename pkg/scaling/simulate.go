package scaling

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Simulation is the capacity model the simulator replays a trace against.
type Simulation struct {
	// CapacityPerNode is the request rate at which a node saturates.
	CapacityPerNode float64
	// LeadTime is how long a new node takes to serve.
	LeadTime time.Duration
	// Tick is the decision interval.
	Tick time.Duration
	// BaseLatency is a request's p95 latency on an idle node; under load ρ it is
	// BaseLatency / (1 − ρ).
	BaseLatency time.Duration
	// LatencyTarget is the p95 latency a minute must stay under.
	LatencyTarget time.Duration
	// Noise is the relative noise on every observed metric.
	Noise float64
	// StaticNodes is the size of the static fleet; zero sizes it for the trace's peak at the
	// policy's requests/s target (or at CapacityPerNode without one).
	StaticNodes int
}

// DefaultSimulation returns the simulator's defaults: 16 requests/s per node, 3 min lead time,
// a 15 s tick, 200 ms base latency, a 600 ms target and 5 % noise.
func DefaultSimulation() Simulation {
	return Simulation{
		CapacityPerNode: 16, LeadTime: 3 * time.Minute, Tick: 15 * time.Second,
		BaseLatency: 200 * time.Millisecond, LatencyTarget: 600 * time.Millisecond, Noise: 0.05,
	}
}

// Validate reports every invalid setting, naming its key.
func (s Simulation) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{Field: "simulation." + field, Reason: fmt.Sprintf(format, args...)})
	}
	if !finite(s.CapacityPerNode) || s.CapacityPerNode <= 0 {
		bad("capacity_per_node", "%v must be positive", s.CapacityPerNode)
	}
	if s.LeadTime < 0 || s.LeadTime > 24*time.Hour {
		bad("lead_time", "%s must be between 0 and 24h", s.LeadTime)
	}
	if s.Tick < time.Second || s.Tick > 10*time.Minute {
		bad("tick", "%s must be between 1s and 10m", s.Tick)
	}
	if s.BaseLatency <= 0 || s.LatencyTarget <= s.BaseLatency {
		bad("latency_target", "%s must be above base_latency %s, which must be positive", s.LatencyTarget, s.BaseLatency)
	}
	if !finite(s.Noise) || s.Noise < 0 || s.Noise >= 1 {
		bad("noise", "%v must be at least 0 and below 1", s.Noise)
	}
	if s.StaticNodes < 0 || s.StaticNodes > MaxNodes {
		bad("static_nodes", "%d must be between 0 and %d", s.StaticNodes, MaxNodes)
	}
	return errors.Join(errs...)
}

// Result is one scaling mode's outcome over a trace.
type Result struct {
	Mode string
	// NodeHours counts every node asked for, serving or starting.
	NodeHours float64
	// MinutesOverLatency is the time the modelled p95 latency was above the target;
	// MinutesOverCapacity the time the load was above what the ready nodes serve.
	MinutesOverLatency, MinutesOverCapacity float64
	// Actions is the number of size changes.
	Actions   int
	PeakNodes int
	// Note says what limited the mode, e.g. a forecast without enough history.
	Note string
	// Skipped says the mode did not run (Note says why); its figures are all zero.
	Skipped bool
}

// The simulated modes.
const (
	ModeStatic     = "static"
	ModeReactive   = "reactive"
	ModePredictive = "reactive+predictive"
)

// simStart is the simulated clock's origin: a Monday, so the weekly season lines up.
var simStart = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

// Simulate replays tr through Decide under p and the capacity model sim, three ways: a static
// fleet, reactive scaling, and reactive scaling with the predictive floor. The same seed gives
// the same results.
func Simulate(p Policy, sim Simulation, tr Trace, seed uint64) []Result {
	reactive := p
	reactive.Predictive.Enabled = false
	predictive := p
	predictive.Predictive.Enabled = true
	if !hasTarget(p, predictive.Predictive.Metric) {
		predictive.Predictive.Metric = MetricRPS
	}
	out := []Result{
		simulate(ModeStatic, p, sim, tr, seed, true),
		simulate(ModeReactive, reactive, sim, tr, seed, false),
	}
	if err := predictive.Validate(); err != nil {
		return append(out, Result{Mode: ModePredictive, Skipped: true, Note: "not run: " + err.Error()})
	}
	return append(out, simulate(ModePredictive, predictive, sim, tr, seed, false))
}

func hasTarget(p Policy, m Metric) bool {
	for _, t := range p.Targets {
		if t.Metric == m {
			return true
		}
	}
	return false
}

// noisyMetrics are the observed metrics the simulation adds noise to; the error rate has none.
var noisyMetrics = []Metric{MetricRPS, MetricCPU, MetricMemory, MetricLatencyP95, MetricTTFT, MetricInFlight, MetricTokens, MetricQueue}

// observed is what the capacity model shows the scaler of a node serving perNode requests per
// second at utilisation rho with the modelled latency.
func (sim Simulation) observed(perNode, rho, latency float64) map[Metric]float64 {
	return map[Metric]float64{
		MetricRPS:        perNode,
		MetricCPU:        min(100, 100*rho),
		MetricMemory:     30 + 40*min(1, rho),
		MetricLatencyP95: latency,
		MetricTTFT:       latency / 3,
		MetricInFlight:   perNode * latency / 1000,
		MetricTokens:     perNode * 400,
		MetricQueue:      max(0, perNode-sim.CapacityPerNode) * sim.Tick.Seconds(),
		MetricErrorRate:  max(0, 1-1/max(rho, 1)),
	}
}

// staticLoad is the load per node a static fleet is sized for: the most at which the capacity
// model meets every one of the policy's targets, as the scaler aims to, whatever the targets'
// metrics (requests per second, CPU, latency, in flight, …); the node's capacity when no target
// binds below it.
func staticLoad(p Policy, sim Simulation) float64 {
	meets := func(perNode float64) bool {
		rho := perNode / sim.CapacityPerNode
		latency := float64(sim.BaseLatency.Milliseconds()) / (1 - rho)
		obs := sim.observed(perNode, rho, latency)
		for _, t := range p.Targets {
			if v, ok := obs[t.Metric]; ok && v > t.Value {
				return false
			}
		}
		return true
	}
	lo, hi := 0.0, sim.CapacityPerNode
	if meets(hi * (1 - 1e-9)) {
		return hi
	}
	for range 60 {
		if mid := (lo + hi) / 2; meets(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return max(lo, sim.CapacityPerNode/1000)
}

// simulate runs one mode.
func simulate(mode string, p Policy, sim Simulation, tr Trace, seed uint64, static bool) Result {
	r := rand.New(rand.NewPCG(seed, 2))
	noisy := func(v float64) float64 { return v * (1 + sim.Noise*(2*r.Float64()-1)) }
	perNode := staticLoad(p, sim)
	sizeFor := func(load float64) int { return min(max(int(math.Ceil(load/perNode)), p.Min, 1), p.Max) }
	ready := sizeFor(tr.At(0))
	if static {
		ready = sizeFor(tr.Peak())
		if sim.StaticNodes > 0 {
			ready = sim.StaticNodes
		}
	}
	res := Result{Mode: mode, PeakNodes: ready}
	var (
		pending             []time.Time
		st                  State
		model               = NewModel(simStart, p.Predictive.Horizon)
		minuteSum, minuteN  float64
		minute              int64
		tick                = sim.Tick.Seconds()
		fc                  Forecast
		latencyTargetMillis = float64(sim.LatencyTarget.Milliseconds())
		baseMillis          = float64(sim.BaseLatency.Milliseconds())
	)
	for k := 0; float64(k)*tick <= tr.Duration(); k++ {
		secs := float64(k) * tick
		now := simStart.Add(time.Duration(secs * float64(time.Second)))
		kept := pending[:0]
		for _, at := range pending {
			if at.After(now) {
				kept = append(kept, at)
			} else {
				ready++
			}
		}
		pending = kept
		load := tr.At(secs)
		if m := int64(secs / 60); m != minute {
			model.Observe(minuteSum / max(minuteN, 1))
			minute, minuteSum, minuteN = m, 0, 0
		}
		minuteSum += load
		minuteN++

		rho := math.Inf(1)
		if ready > 0 {
			rho = load / (float64(ready) * sim.CapacityPerNode)
		} else if load == 0 {
			rho = 0
		}
		latency := baseMillis / (1 - rho)
		if rho >= 1 {
			latency = 100 * baseMillis
			res.MinutesOverCapacity += tick / 60
		}
		if latency > latencyTargetMillis {
			res.MinutesOverLatency += tick / 60
		}
		res.NodeHours += float64(ready+len(pending)) * tick / 3600
		if static {
			continue
		}

		cur := ready + len(pending)
		snap := Snapshot{Now: now, Current: cur, Ready: ready, Wake: cur == 0 && load > 0}
		if ready > 0 {
			snap.Observed = sim.observed(load/float64(ready), rho, latency)
			for _, m := range noisyMetrics { // in a fixed order, so one seed gives one run
				snap.Observed[m] = noisy(snap.Observed[m])
			}
		}
		if p.Predictive.Enabled {
			snap.Floor, fc = PredictFloor(p, model)
		}
		d, next := Decide(p, st, snap)
		st = next
		switch {
		case d.Desired > cur:
			for range d.Desired - cur {
				pending = append(pending, now.Add(sim.LeadTime))
			}
		case d.Desired < cur:
			drop := cur - d.Desired
			cancel := min(drop, len(pending))
			pending = pending[:len(pending)-cancel]
			ready -= drop - cancel
		}
		if d.Desired != cur {
			res.Actions++
		}
		res.PeakNodes = max(res.PeakNodes, d.Desired)
	}
	if p.Predictive.Enabled {
		res.Note = "forecast " + fc.Status
		if !fc.Ready {
			res.Note = "forecast never on: " + fc.Status
		}
	}
	return res
}
