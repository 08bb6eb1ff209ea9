package scaling

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// Node is one node of a pool, as victim choice sees it.
type Node struct {
	ID string
	// Ready means the node registered and is healthy: it carries load.
	Ready       bool
	HourlyPrice float64
	Spot        bool
	// Load is the node's current load (in-flight requests or requests/s), for LeastLoaded.
	Load float64
	// Started is when the node joined the pool, for Newest.
	Started time.Time
}

// Snapshot is what Decide knows about a pool at one instant.
type Snapshot struct {
	Now time.Time
	// Current is the pool's size: ready nodes, nodes starting and nodes asked for but not yet
	// registered; draining nodes are not counted.
	Current int
	// Ready is how many of Current carry load.
	Ready int
	// Observed holds each metric's value: per-node metrics averaged over the ready nodes. A
	// metric that is absent is missing and never causes a scale-down.
	Observed map[Metric]float64
	// Nodes are the pool's registered nodes that are not leaving, for victim choice. Current
	// beyond len(Nodes) counts nodes asked for but not registered yet; a scale-down cancels
	// those before it names a victim.
	Nodes []Node
	// Wake is set when a request found the pool empty.
	Wake bool
	// Floor is the predictive floor (see PredictFloor); zero means none.
	Floor Floor
	// Replace counts the nodes (or instances) the cloud is reclaiming, out of Current already,
	// whose capacity is not replaced yet: the pool grows back by them at once.
	Replace int
}

// Sample is one past recommendation.
type Sample struct {
	Time  time.Time
	Nodes int
}

// Action is one past change of a pool's size.
type Action struct {
	Time     time.Time
	From, To int
}

// RuleState is what a custom rule remembers between ticks.
type RuleState struct {
	// Since is when the rule's condition became true; zero while it is false.
	Since time.Time
	// Fired is when the rule last fired.
	Fired time.Time
}

// State is what Decide carries from one tick to the next; the zero value is a fresh pool.
// Decide never modifies the State it is given.
type State struct {
	Recommendations []Sample
	Actions         []Action
	Rules           map[string]RuleState
}

// Proposal is what one signal asked for.
type Proposal struct {
	// Source is a metric name, "rule:<name>", "predictive", "wake" or "replacement".
	Source string
	// Observed and Target are the signal's value and goal (a rule's threshold).
	Observed, Target float64
	// Nodes is the size the signal proposes.
	Nodes int
	// Note says in words how the proposal was reached.
	Note string
}

// Decision is the outcome of one tick for one pool.
type Decision struct {
	Time             time.Time
	Current, Desired int
	Proposals        []Proposal
	// Recommended is the size the signals asked for before stabilization and limits.
	Recommended int
	// Limit names the step that last changed the recommendation on its way to Desired (a
	// stabilization window, a cooldown, a rate policy, min or max); empty when none did.
	Limit string
	// CooldownLeft is the time until the cooldown that held the pool ends.
	CooldownLeft time.Duration
	// Victims are the registered nodes to drain and remove when Desired < Current, in order.
	Victims []string
	// Reason explains the decision in words.
	Reason string
}

// Decide computes one pool's desired size at snap.Now and the state for the next tick.
//
// Each target proposes ceil(current × observed / target) (per-node metrics count not-ready nodes
// as idle), or the current size when the ratio is within the tolerance, the metric is missing, or
// a smaller size would be decided while nodes are not ready. The largest proposal wins; firing
// scale-up rules add to it; a firing scale-down rule applies only when no target asks for more or
// holds for want of data. The predictive floor and a wake-up raise the result; then the
// stabilization windows, cooldowns, rate policies and min/max limit it, in that order.
func Decide(p Policy, st State, snap Snapshot) (Decision, State) {
	now, cur := snap.Now, snap.Current
	d := Decision{Time: now, Current: cur}
	next := State{Rules: make(map[string]RuleState, len(p.Rules))}

	rec, blockDown := cur, false
	upWanted := false
	for _, t := range p.Targets {
		pr := targetProposal(t, p.Tolerance, snap)
		if pr.Nodes == cur && pr.Note != noteTolerance {
			blockDown = true
		}
		upWanted = upWanted || pr.Nodes > cur
		d.Proposals = append(d.Proposals, pr)
	}
	if len(p.Targets) > 0 {
		rec = maxProposal(d.Proposals)
	}
	downRule := -1
	for _, r := range p.Rules {
		rs := st.Rules[r.Name]
		v, ok := snap.Observed[r.Metric]
		holds, _ := r.Comparison.holds(v, r.Threshold)
		if !ok || !holds {
			next.Rules[r.Name] = RuleState{Fired: rs.Fired}
			continue
		}
		if rs.Since.IsZero() {
			rs.Since = now
		}
		cooling := !rs.Fired.IsZero() && now.Sub(rs.Fired) < r.Cooldown
		if now.Sub(rs.Since) >= r.For && !cooling {
			rs.Fired = now
			n := cur + r.step(cur)
			if r.Action == ScaleDown {
				n = max(0, cur-r.step(cur))
				if downRule < 0 || n < downRule {
					downRule = n
				}
			} else {
				rec = max(rec, n)
				upWanted = true
			}
			d.Proposals = append(d.Proposals, Proposal{
				Source: "rule:" + r.Name, Observed: v, Target: r.Threshold, Nodes: n,
				Note: fmt.Sprintf("%s %s %s %v for %s: %s by %s", r.Metric, fmtFloat(v), r.Comparison, fmtFloat(r.Threshold), r.For, r.Action, amount(r.Amount, r.Unit)),
			})
		}
		next.Rules[r.Name] = rs
	}
	if downRule >= 0 && !upWanted && !blockDown {
		rec = min(rec, downRule)
	}
	d.Recommended = rec

	// The stabilization history holds signal recommendations only: the floor and a wake-up act
	// on their own, so they never hold a pool up after they end.
	maxWindow := max(p.ScaleUp.StabilizationWindow, p.ScaleDown.StabilizationWindow)
	for _, s := range st.Recommendations {
		if now.Sub(s.Time) < maxWindow {
			next.Recommendations = append(next.Recommendations, s)
		}
	}
	desired := stabilize(p, next.Recommendations, now, cur, rec, &d)
	next.Recommendations = append(next.Recommendations, Sample{Time: now, Nodes: rec})

	if f := snap.Floor; f.Nodes > desired {
		desired = f.Nodes
		d.Proposals = append(d.Proposals, Proposal{Source: "predictive", Observed: f.Forecast, Nodes: f.Nodes, Note: f.Reason})
		d.Limit = "predictive floor"
	}
	wake := snap.Wake && cur == 0 && p.WakeSize > 0
	if wake {
		desired = max(desired, p.WakeSize)
		d.Proposals = append(d.Proposals, Proposal{Source: "wake", Nodes: p.WakeSize, Note: "a request found the pool empty"})
	}
	replace := snap.Replace > 0 && cur+snap.Replace > desired
	if replace {
		desired = cur + snap.Replace
		d.Proposals = append(d.Proposals, Proposal{Source: "replacement", Nodes: desired, Note: fmt.Sprintf("%d reclaimed by the cloud", snap.Replace)})
	}

	keepFrom := now.Add(-longestMemory(p))
	for _, a := range st.Actions {
		if a.Time.After(keepFrom) {
			next.Actions = append(next.Actions, a)
		}
	}
	if !wake && !replace {
		desired = cooldown(p, next.Actions, now, cur, desired, &d)
		desired = rateLimit(p, next.Actions, now, cur, desired, &d)
	}
	switch {
	case desired > p.Max:
		desired = p.Max
		d.Limit = fmt.Sprintf("max %d", p.Max)
	case desired < p.Min:
		desired = p.Min
		d.Limit = fmt.Sprintf("min %d", p.Min)
	}
	d.Desired = desired
	if desired != cur {
		next.Actions = append(next.Actions, Action{Time: now, From: cur, To: desired})
	}
	if desired < cur {
		// Nodes asked for but not registered (Current beyond the listed nodes) go first.
		d.Victims = ChooseVictims(snap.Nodes, min(cur, len(snap.Nodes))-desired, p.Victims)
	}
	d.Reason = reason(d)
	return d, next
}

const noteTolerance = "within tolerance"

// targetProposal applies the reactive formula to one target.
func targetProposal(t Target, tolerance float64, snap Snapshot) Proposal {
	cur := snap.Current
	pr := Proposal{Source: string(t.Metric), Target: t.Value, Nodes: cur}
	v, ok := snap.Observed[t.Metric]
	if !ok || !finite(v) || (t.Metric.PerNode() && snap.Ready == 0) {
		pr.Note = "metric missing: holding"
		return pr
	}
	pr.Observed = v
	ratio := v / t.Value
	if t.Metric.PerNode() && cur > 0 {
		ratio = v * float64(snap.Ready) / (t.Value * float64(cur))
	}
	if math.Abs(ratio-1) <= tolerance {
		pr.Note = noteTolerance
		return pr
	}
	n := int(math.Ceil(float64(cur)*ratio - 1e-9))
	pr.Note = fmt.Sprintf("%s is %.0f%% of target %s", fmtFloat(v), 100*v/t.Value, fmtFloat(t.Value))
	if n < cur && snap.Ready < cur {
		pr.Note += fmt.Sprintf("; %d nodes not ready: holding", cur-snap.Ready)
		return pr
	}
	pr.Nodes = min(n, MaxNodes)
	return pr
}

func maxProposal(ps []Proposal) int {
	n := 0
	for _, p := range ps {
		n = max(n, p.Nodes)
	}
	return n
}

// stabilize keeps the size between the lowest recommendation of the scale-up window and the
// highest of the scale-down window.
func stabilize(p Policy, hist []Sample, now time.Time, cur, rec int, d *Decision) int {
	up, down := rec, rec
	for _, s := range hist {
		age := now.Sub(s.Time)
		if age < p.ScaleUp.StabilizationWindow {
			up = min(up, s.Nodes)
		}
		if age < p.ScaleDown.StabilizationWindow {
			down = max(down, s.Nodes)
		}
	}
	out := cur
	if out < up {
		out = up
	}
	if out > down {
		out = down
	}
	switch {
	case out < rec:
		d.Limit = fmt.Sprintf("scale-up stabilization window %s (lowest recommendation %d)", p.ScaleUp.StabilizationWindow, up)
	case out > rec:
		d.Limit = fmt.Sprintf("scale-down stabilization window %s (highest recommendation %d)", p.ScaleDown.StabilizationWindow, down)
	}
	return out
}

// cooldown holds the pool while the cooldown of the direction it would move in runs.
func cooldown(p Policy, acts []Action, now time.Time, cur, want int, d *Decision) int {
	if want == cur || len(acts) == 0 {
		return want
	}
	last := acts[len(acts)-1].Time
	b, dir := p.ScaleUp, "scale-up"
	if want < cur {
		b, dir = p.ScaleDown, "scale-down"
	}
	if left := b.Cooldown - now.Sub(last); left > 0 {
		d.CooldownLeft = left
		d.Limit = fmt.Sprintf("%s cooldown %s after the last action", dir, b.Cooldown)
		return cur
	}
	return want
}

// rateLimit caps the change by the direction's rate policies, counting the changes already made
// within each policy's period.
func rateLimit(p Policy, acts []Action, now time.Time, cur, want int, d *Decision) int {
	if want == cur {
		return want
	}
	up := want > cur
	b := p.ScaleDown
	if up {
		b = p.ScaleUp
	}
	if len(b.Policies) == 0 {
		return want
	}
	limit, which := 0, RatePolicy{}
	for i, rp := range b.Policies {
		moved := 0
		for _, a := range acts {
			if now.Sub(a.Time) >= rp.Period {
				continue
			}
			if up && a.To > a.From {
				moved += a.To - a.From
			} else if !up && a.To < a.From {
				moved += a.From - a.To
			}
		}
		var l int
		if up {
			start := max(cur-moved, 0)
			l = start + rp.Value
			if rp.Unit == Percent {
				l = max(int(math.Ceil(float64(start)*(1+float64(rp.Value)/100))), start+1)
			}
		} else {
			start := cur + moved
			l = start - rp.Value
			if rp.Unit == Percent {
				l = int(math.Floor(float64(start) * (1 - float64(rp.Value)/100)))
			}
		}
		// MaxChange takes the most permissive limit, MinChange the strictest.
		permissive := (up && l > limit) || (!up && l < limit)
		if i == 0 || permissive == (b.Select != MinChange) {
			limit, which = l, rp
		}
	}
	if up && want > limit {
		want = max(limit, cur)
		d.Limit = "scale-up rate policy " + which.String()
	} else if !up && want < limit {
		want = min(limit, cur)
		d.Limit = "scale-down rate policy " + which.String()
	}
	return want
}

// longestMemory is how long past actions matter: the longest rate period or cooldown.
func longestMemory(p Policy) time.Duration {
	m := max(p.ScaleUp.Cooldown, p.ScaleDown.Cooldown)
	for _, b := range []Behavior{p.ScaleUp, p.ScaleDown} {
		for _, rp := range b.Policies {
			m = max(m, rp.Period)
		}
	}
	return m
}

func reason(d Decision) string {
	var b strings.Builder
	switch {
	case d.Desired > d.Current:
		fmt.Fprintf(&b, "scale up %d → %d", d.Current, d.Desired)
	case d.Desired < d.Current:
		fmt.Fprintf(&b, "scale down %d → %d", d.Current, d.Desired)
	default:
		fmt.Fprintf(&b, "hold at %d", d.Current)
	}
	var drivers []string
	for _, p := range d.Proposals {
		if p.Nodes != d.Current || len(d.Proposals) == 1 {
			drivers = append(drivers, fmt.Sprintf("%s proposes %d (%s)", p.Source, p.Nodes, p.Note))
		}
	}
	switch {
	case len(drivers) > 0:
		b.WriteString(": " + strings.Join(drivers, "; "))
	case len(d.Proposals) > 0:
		b.WriteString(": every signal is within tolerance or holding")
	default:
		b.WriteString(": no target, rule or forecast asks for a change")
	}
	if d.Limit != "" {
		fmt.Fprintf(&b, "; limited by %s", d.Limit)
	}
	if d.CooldownLeft > 0 {
		fmt.Fprintf(&b, " (%s left)", d.CooldownLeft.Round(time.Second))
	}
	return b.String()
}

func amount(v int, u Unit) string {
	switch {
	case u == Percent:
		return fmt.Sprintf("%d%%", v)
	case v == 1:
		return "1 node"
	}
	return fmt.Sprintf("%d nodes", v)
}

func fmtFloat(f float64) string { return strings.TrimSuffix(fmt.Sprintf("%.3g", f), ".000") }
