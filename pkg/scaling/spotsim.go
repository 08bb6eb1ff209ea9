package scaling

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// SpotSimulation models spot capacity for SimulateSpot: preemptions at a rate per spot node and
// hour, each announced Notice ahead (the node drains at once and is billed until it goes), and a
// spot outage after each preemption during which spot launches fail (they are found failed when
// they would have been ready).
type SpotSimulation struct {
	PreemptionsPerHour float64
	Notice             time.Duration
	Outage             time.Duration
	OnDemandHourly     float64
	SpotHourly         float64
}

// DefaultSpotSimulation returns 0.1 preemptions per spot node and hour, a 2 min notice, a
// 20 min outage after each, and m7i.2xlarge prices (0.4032 $/h on-demand, 0.1210 spot).
func DefaultSpotSimulation() SpotSimulation {
	return SpotSimulation{PreemptionsPerHour: 0.1, Notice: 2 * time.Minute, Outage: 20 * time.Minute, OnDemandHourly: 0.4032, SpotHourly: 0.1210}
}

// Validate reports every invalid setting, naming its flag.
func (s SpotSimulation) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)})
	}
	if !finite(s.PreemptionsPerHour) || s.PreemptionsPerHour < 0 || s.PreemptionsPerHour > 60 {
		bad("preemptions_per_hour", "%v must be between 0 and 60", s.PreemptionsPerHour)
	}
	if s.Notice < 0 || s.Notice > time.Hour {
		bad("notice", "%s must be between 0 and 1h", s.Notice)
	}
	if s.Outage < 0 || s.Outage > 24*time.Hour {
		bad("outage", "%s must be between 0 and 24h", s.Outage)
	}
	if !finite(s.OnDemandHourly) || s.OnDemandHourly < 0 || !finite(s.SpotHourly) || s.SpotHourly < 0 {
		bad("prices", "on-demand %v and spot %v $/h must be finite and not negative", s.OnDemandHourly, s.SpotHourly)
	}
	return errors.Join(errs...)
}

// The modes SimulateSpot compares.
const (
	ModeOnDemand      = "all on-demand"
	ModeMixed         = "mixed"
	ModeMixedFallback = "mixed + fallback"
)

// SpotResult is one mode's outcome.
type SpotResult struct {
	Mode string
	// CostUSD is the host cost of every node asked for, starting, serving or draining.
	CostUSD   float64
	NodeHours float64
	// SpotShare is the share of node-hours on spot.
	SpotShare float64
	// MinutesOverCapacity is the time the load was above what the ready nodes serve.
	MinutesOverCapacity float64
	Preemptions         int
	// FailedSpotLaunches counts spot launches that found spot unavailable.
	FailedSpotLaunches int
	// OnDemandLaunches and SpotLaunches count the nodes asked for by type.
	OnDemandLaunches, SpotLaunches int
}

// simNode is one node of the spot simulation.
type simNode struct {
	spot     bool
	readyAt  time.Time
	goneAt   time.Time // the notice's deadline; zero until preempted
	draining bool
	failed   bool // a spot launch during an outage: it never serves
}

// SimulateSpot replays tr through Decide under p three ways on the same trace and seed: every
// node on-demand, p's capacity mix without fallback, and with it. p's Capacity
// gives base_on_demand and spot_fraction (and spot_retry); a reclaimed node is replaced at its
// notice, as the scaler does.
func SimulateSpot(p Policy, sim Simulation, spot SpotSimulation, tr Trace, seed uint64) []SpotResult {
	onDemand, mixed, fallback := p, p, p
	onDemand.Capacity = Capacity{}
	mixed.Capacity.Fallback = false
	fallback.Capacity.Fallback = true
	return []SpotResult{
		simulateSpot(ModeOnDemand, onDemand, sim, spot, tr, seed),
		simulateSpot(ModeMixed, mixed, sim, spot, tr, seed),
		simulateSpot(ModeMixedFallback, fallback, sim, spot, tr, seed),
	}
}

func simulateSpot(mode string, p Policy, sim Simulation, spot SpotSimulation, tr Trace, seed uint64) SpotResult {
	r := rand.New(rand.NewPCG(seed, 3))
	noisy := func(v float64) float64 { return v * (1 + sim.Noise*(2*r.Float64()-1)) }
	perNode := sim.CapacityPerNode
	for _, t := range p.Targets {
		if t.Metric == MetricRPS {
			perNode = t.Value
		}
	}
	res := SpotResult{Mode: mode}
	var (
		nodes     []*simNode
		st        State
		spotLost  time.Time // last preemption or failed spot launch
		outageEnd time.Time
		replace   int
		tick      = sim.Tick.Seconds()
		spotHours float64
	)
	launch := func(now time.Time, add Mix) {
		for range add.OnDemand {
			nodes = append(nodes, &simNode{readyAt: now.Add(sim.LeadTime)})
			res.OnDemandLaunches++
		}
		for range add.Spot {
			nodes = append(nodes, &simNode{spot: true, readyAt: now.Add(sim.LeadTime), failed: now.Before(outageEnd)})
			res.SpotLaunches++
		}
	}
	start := min(max(int(math.Ceil(tr.At(0)/perNode)), p.Min, 1), p.Max)
	launch(simStart.Add(-sim.LeadTime), TargetMix(p.Capacity, start, false))
	pPreempt := 1 - math.Exp(-spot.PreemptionsPerHour*tick/3600)
	for k := 0; float64(k)*tick <= tr.Duration(); k++ {
		secs := float64(k) * tick
		now := simStart.Add(time.Duration(secs * float64(time.Second)))
		// Nodes go: drained ones at their deadline, failed spot launches when found.
		nodes = slices.DeleteFunc(nodes, func(n *simNode) bool {
			switch {
			case n.draining && !now.Before(n.goneAt):
				return true
			case n.failed && !now.Before(n.readyAt):
				res.FailedSpotLaunches++
				spotLost = now
				return true
			}
			return false
		})
		var ready, current int
		var have Mix
		for _, n := range nodes {
			if n.draining {
				continue
			}
			if n.spot && !now.Before(n.readyAt) && r.Float64() < pPreempt {
				n.draining, n.goneAt = true, now.Add(spot.Notice)
				res.Preemptions++
				spotLost, outageEnd = now, now.Add(spot.Outage)
				replace++
				continue
			}
			current++
			if n.spot {
				have.Spot++
			} else {
				have.OnDemand++
			}
			if !now.Before(n.readyAt) {
				ready++
			}
		}
		for _, n := range nodes {
			if n.failed {
				continue // a launch the cloud refused costs nothing
			}
			h := tick / 3600
			res.NodeHours += h
			if n.spot {
				spotHours += h
				res.CostUSD += h * spot.SpotHourly
			} else {
				res.CostUSD += h * spot.OnDemandHourly
			}
		}
		load := tr.At(secs)
		if load > float64(ready)*sim.CapacityPerNode {
			res.MinutesOverCapacity += tick / 60
		}
		snap := Snapshot{Now: now, Current: current, Ready: ready, Wake: current == 0 && load > 0, Replace: replace}
		if ready > 0 {
			snap.Observed = map[Metric]float64{MetricRPS: noisy(load / float64(ready))}
		}
		d, next := Decide(p, st, snap)
		st = next
		if replace > 0 && (d.Desired >= d.Current+replace || d.Desired == p.Max) {
			replace = 0
		}
		scarce := p.Capacity.SpotScarce(spotLost, now)
		target := TargetMix(p.Capacity, d.Desired, scarce)
		switch {
		case d.Desired > current:
			launch(now, Additions(target, have, d.Desired-current))
		case d.Desired < current:
			removeSimNodes(nodes, current-d.Desired, target, have, now)
			nodes = slices.DeleteFunc(nodes, func(n *simNode) bool { return n.goneAt.Equal(now) && n.draining })
		}
	}
	if res.NodeHours > 0 {
		res.SpotShare = spotHours / res.NodeHours
	}
	return res
}

// removeSimNodes takes n nodes out, from the type most over its target, nodes not ready yet
// first: they leave at once.
func removeSimNodes(nodes []*simNode, n int, target, have Mix, now time.Time) {
	for range n {
		spot := have.Spot-target.Spot > have.OnDemand-target.OnDemand
		var pick *simNode
		for _, c := range nodes {
			if c.draining || c.spot != spot {
				continue
			}
			if pick == nil || c.readyAt.After(pick.readyAt) {
				pick = c
			}
		}
		if pick == nil {
			for _, c := range nodes {
				if !c.draining && (pick == nil || c.readyAt.After(pick.readyAt)) {
					pick = c
				}
			}
		}
		if pick == nil {
			return
		}
		pick.draining, pick.goneAt = true, now
		if pick.spot {
			have.Spot--
		} else {
			have.OnDemand--
		}
	}
}
