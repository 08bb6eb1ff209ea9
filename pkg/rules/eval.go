package rules

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"cel.dev/cel-go/interpreter"
)

// Input is everything one evaluation reads.
type Input struct {
	Now      time.Time
	Rules    []*Compiled
	Snapshot Snapshot
	// Baselines are the baselines before this snapshot's samples (fold them in afterwards with
	// UpdateBaselines), so a spike is measured against what came before it.
	Baselines       Baselines
	BaselineOptions BaselineOptions
	// Alerts are the states the previous evaluation returned, by Alert.Key.
	Alerts     map[string]Alert
	Silences   []Silence
	Executions []Execution
	Policy     HealingPolicy
	// DefaultRepeat applies to rules without a repeat interval.
	DefaultRepeat time.Duration
	// ResolvedRetention is how long a resolved alert is kept.
	ResolvedRetention time.Duration
	// Budget, when above 0, bounds the time the evaluation takes, as Clock tells it: once it is
	// spent, the rules and targets left are not evaluated (their alerts keep their state) and
	// each rule cut off is reported in Result.CutOff and by an EventCutOff event.
	Budget time.Duration
	// Clock reads the time for Budget; nil means time.Now.
	Clock func() time.Time
}

// Result is what one evaluation decided.
type Result struct {
	// Alerts are the next states, by Alert.Key; an alert absent here is inactive.
	Alerts        map[string]Alert
	Notifications []Notification
	Decisions     []Decision
	Events        []Event
	// Errors are conditions that failed to evaluate on a target; the alert keeps its state.
	Errors []EvalError
	// CutOff are the rules the time budget stopped before they were evaluated on every target.
	CutOff []CutOff
}

// CutOff is a rule the evaluation's time budget stopped.
type CutOff struct {
	Rule string
	// Skipped of Targets targets were not evaluated.
	Skipped, Targets int
}

// EvalError is a condition that could not be evaluated on one target.
type EvalError struct {
	Rule   string
	Target string
	Err    error
}

// evaluator carries one evaluation.
type evaluator struct {
	in     Input
	res    Result
	scopes map[Scope][]target // each scope's targets, built once per evaluation
	fleet  any                // the fleet variable, boxed once
}

// Evaluate runs every enabled rule on every target of its scope and steps the alert states:
// pending when a condition starts to hold, firing once it held for the rule's `for`, resolved
// when it stops; it decides notifications (repeated every repeat interval, suppressed by
// silences) and healing actions within the policy's guards. It does not modify in.
func Evaluate(in Input) Result {
	e := &evaluator{in: in, res: Result{Alerts: make(map[string]Alert, len(in.Alerts))}}
	seen := make(map[string]bool)
	clock := in.Clock
	if clock == nil {
		clock = time.Now
	}
	start := clock()
	spent := false
	for _, c := range in.Rules {
		if c.Rule.Disabled {
			continue
		}
		targets := e.targets(c.Rule.Scope)
		skipped := 0
		for i := range targets {
			t := &targets[i]
			key := AlertKey(c.Rule.Name, t.target)
			if _, had := in.Alerts[key]; had {
				seen[key] = true // finishUnseen asks only of the alerts it had
			}
			if !spent && in.Budget > 0 && clock().Sub(start) >= in.Budget {
				spent = true
			}
			if spent {
				skipped++
				if prev, had := in.Alerts[key]; had {
					e.res.Alerts[key] = prev.clone()
				}
				continue
			}
			ok, err := c.eval(t)
			if err != nil {
				e.res.Errors = append(e.res.Errors, EvalError{Rule: c.Rule.Name, Target: t.target, Err: err})
				if prev, had := in.Alerts[key]; had {
					e.res.Alerts[key] = prev.clone()
				}
				continue
			}
			e.step(c, t, key, ok)
		}
		if skipped > 0 {
			e.res.CutOff = append(e.res.CutOff, CutOff{Rule: c.Rule.Name, Skipped: skipped, Targets: len(targets)})
			e.event(EventCutOff, c.Rule.Name, "", fmt.Sprintf("not evaluated on %d of %d targets: the evaluation's time budget of %s was spent; their alerts keep their state",
				skipped, len(targets), in.Budget))
		}
	}
	e.finishUnseen(seen)
	return e.res
}

// target is one thing a rule is evaluated on, and the variables its conditions read: an
// interpreter.Activation that builds each variable the first time a condition reads it, so a
// rule set that reads no baselines builds none, and every rule of the scope shares what one
// built.
type target struct {
	target string
	node   *Node
	pool   *Pool
	fleet  *Fleet
	e      *evaluator
	// params are the variables of the rule being evaluated (params), below the target's.
	params interpreter.Activation
	// baselines holds the baseline variables once built (mean, z, hour mean, hour z).
	baselines *[4]map[string]float64
}

// targets returns the targets of scope s, built on first use.
func (e *evaluator) targets(s Scope) []target {
	if ts, ok := e.scopes[s]; ok {
		return ts
	}
	if e.scopes == nil {
		e.scopes = make(map[Scope][]target, 3)
	}
	snap := &e.in.Snapshot
	var out []target
	switch s {
	case ScopeNode:
		pools := make(map[string]*Pool, len(snap.Pools))
		for i := range snap.Pools {
			pools[snap.Pools[i].Name] = &snap.Pools[i]
		}
		out = make([]target, 0, len(snap.Nodes))
		for i := range snap.Nodes {
			n := &snap.Nodes[i]
			p, ok := pools[n.Pool]
			if !ok {
				p = &Pool{Name: n.Pool}
				pools[n.Pool] = p
			}
			out = append(out, target{target: NodeTarget(n.ID), node: n, pool: p, fleet: &snap.Fleet, e: e})
		}
	case ScopePool:
		out = make([]target, 0, len(snap.Pools))
		for i := range snap.Pools {
			out = append(out, target{target: PoolTarget(snap.Pools[i].Name), pool: &snap.Pools[i], fleet: &snap.Fleet, e: e})
		}
	default:
		out = []target{{target: FleetTarget, fleet: &snap.Fleet, e: e}}
	}
	e.scopes[s] = out
	return out
}

// ResolveName returns the variable name of t's conditions: node, pool and fleet (of t's scope)
// and the baselines behind baseline(), zscore() and their time-of-day forms, then the params
// of the rule being evaluated.
func (t *target) ResolveName(name string) (any, bool) {
	switch name {
	case "fleet":
		if t.e.fleet == nil {
			t.e.fleet = *t.fleet
		}
		return t.e.fleet, true
	case "node":
		if t.node == nil {
			return nil, false
		}
		return t.node, true
	case "pool":
		if t.pool == nil {
			return nil, false
		}
		return t.pool, true
	case varMean, varZ, varHourMean, varHourZ:
		if t.baselines == nil {
			var d DSPy
			var cpu, mem float64
			switch {
			case t.node != nil:
				d, cpu, mem = t.node.DSPy, t.node.Host.CPU, t.node.Host.Memory
			case t.pool != nil:
				d, cpu, mem = t.pool.DSPy, t.pool.CPU, t.pool.Memory
			default:
				d = t.fleet.DSPy
			}
			in := &t.e.in
			var b [4]map[string]float64
			b[0], b[1], b[2], b[3] = baselineVars(in.Baselines, t.target, d, cpu, mem, in.Now, in.BaselineOptions)
			t.baselines = &b
		}
		switch name {
		case varMean:
			return t.baselines[0], true
		case varZ:
			return t.baselines[1], true
		case varHourMean:
			return t.baselines[2], true
		}
		return t.baselines[3], true
	}
	if t.params != nil {
		return t.params.ResolveName(name)
	}
	return nil, false
}

// Parent is nil: ResolveName resolves the rule's params itself, below the target's variables.
func (t *target) Parent() interpreter.Activation { return nil }

// eval runs the condition with the target's variables, under which the rule's params resolve.
func (c *Compiled) eval(t *target) (bool, error) {
	t.params = c.params
	v, _, err := c.prg.Eval(t)
	if err != nil {
		return false, err
	}
	b, ok := v.Value().(bool)
	if !ok {
		return false, fmt.Errorf("condition returned %v, not a bool", v.Type())
	}
	return b, nil
}

func paramsOf(r Rule) map[string]float64 {
	if r.Params == nil {
		return map[string]float64{}
	}
	return r.Params
}

func (e *evaluator) repeat(r Rule) time.Duration {
	if r.Repeat > 0 {
		return r.Repeat
	}
	return e.in.DefaultRepeat
}

// step moves the alert of rule c on t given whether its condition holds.
func (e *evaluator) step(c *Compiled, t *target, key string, holds bool) {
	r := c.Rule
	now := e.in.Now
	prev, had := e.in.Alerts[key]
	if !holds {
		if !had {
			return
		}
		switch prev.State {
		case StateFiring:
			a := prev.clone()
			a.State, a.ResolvedAt = StateResolved, now
			e.res.Alerts[key] = a
			if !a.LastNotified.IsZero() {
				e.notify(NotifyResolved, key, r.Notify, e.repeat(r))
			}
			e.event(EventAlert, r.Name, t.target, fmt.Sprintf("resolved after %s", now.Sub(a.FiredAt).Round(time.Second)))
		case StateResolved:
			e.keepResolved(prev)
		}
		return
	}
	a := prev.clone()
	if !had || prev.State == StateResolved {
		a = Alert{Rule: r.Name, Target: t.target, State: StatePending, ActiveSince: now}
	}
	a.Severity, a.Channels = r.Severity, slices.Clone(r.Notify)
	a.Labels, a.Node, a.Pool = alertLabels(r, t), "", ""
	if t.node != nil {
		a.Node, a.Pool = t.node.ID, t.node.Pool
	} else if t.pool != nil {
		a.Pool = t.pool.Name
	}
	a.Annotations = c.render(t, a.Labels)
	if a.State == StatePending && now.Sub(a.ActiveSince) >= r.For {
		a.State, a.FiredAt = StateFiring, now
		e.event(EventAlert, r.Name, t.target, fmt.Sprintf("firing: %s held for %s", r.Condition, now.Sub(a.ActiveSince).Round(time.Second)))
	}
	e.res.Alerts[key] = a
	if a.State != StateFiring {
		return
	}
	if a.LastNotified.IsZero() {
		e.notify(NotifyFiring, key, r.Notify, e.repeat(r))
	} else if now.Sub(a.LastNotified) >= e.repeat(r) {
		e.notify(NotifyRepeat, key, r.Notify, e.repeat(r))
	}
	if r.Action != nil && t.node != nil {
		a = e.res.Alerts[key]
		e.heal(c, &a, *t.node)
		e.res.Alerts[key] = a
	}
}

// alertLabels are the rule's labels plus alertname, severity, node and pool.
func alertLabels(r Rule, t *target) map[string]string {
	l := maps.Clone(r.Labels)
	if l == nil {
		l = make(map[string]string, 4)
	}
	l["alertname"] = r.Name
	l["severity"] = string(r.Severity)
	if t.node != nil {
		l["node"], l["pool"] = t.node.ID, t.node.Pool
	} else if t.pool != nil {
		l["pool"] = t.pool.Name
	}
	return l
}

// templateData is what annotation templates see.
type templateData struct {
	Node   *Node
	Pool   *Pool
	Fleet  *Fleet
	Params map[string]float64
	Labels map[string]string
}

// render executes the annotation templates; a failing template yields its text and the error.
func (c *Compiled) render(t *target, labels map[string]string) map[string]string {
	if len(c.annotations) == 0 {
		return nil
	}
	data := templateData{Node: t.node, Pool: t.pool, Fleet: t.fleet, Params: paramsOf(c.Rule), Labels: labels}
	out := make(map[string]string, len(c.annotations))
	var sb strings.Builder
	for k, tpl := range c.annotations {
		sb.Reset()
		if err := tpl.Execute(&sb, data); err != nil {
			out[k] = c.Rule.Annotations[k] + " (template error: " + err.Error() + ")"
			continue
		}
		out[k] = sb.String()
	}
	return out
}

// notify queues a notification of the alert under key and records the time. A silenced one is
// returned with SilencedBy set, once per repeat interval, and leaves LastNotified alone so the
// alert is notified as soon as the silence ends.
func (e *evaluator) notify(kind NotificationKind, key string, channels []string, repeat time.Duration) {
	a := e.res.Alerts[key]
	n := Notification{Kind: kind, Alert: a.clone(), Channels: slices.Clone(channels)}
	n.SilencedBy = silencedBy(e.in.Silences, a.Labels, e.in.Now)
	if n.SilencedBy != "" {
		if !a.LastSuppressed.IsZero() && e.in.Now.Sub(a.LastSuppressed) < repeat && kind != NotifyResolved {
			return
		}
		a.LastSuppressed = e.in.Now
	} else {
		a.LastNotified = e.in.Now
		n.Alert.LastNotified = e.in.Now
	}
	e.res.Alerts[key] = a
	e.res.Notifications = append(e.res.Notifications, n)
}

func (e *evaluator) event(kind EventKind, rule, target, msg string) {
	e.res.Events = append(e.res.Events, Event{Time: e.in.Now, Kind: kind, Rule: rule, Target: target, Message: msg})
}

func (e *evaluator) keepResolved(a Alert) {
	if e.in.ResolvedRetention > 0 && e.in.Now.Sub(a.ResolvedAt) >= e.in.ResolvedRetention {
		return
	}
	e.res.Alerts[a.Key()] = a.clone()
}

// finishUnseen resolves alerts whose rule or target is gone and steps escalation alerts,
// which follow the alert they escalated.
func (e *evaluator) finishUnseen(seen map[string]bool) {
	for _, key := range slices.Sorted(maps.Keys(e.in.Alerts)) {
		prev := e.in.Alerts[key]
		if seen[key] {
			continue
		}
		if _, done := e.res.Alerts[key]; done {
			continue // raised in this evaluation
		}
		channels := prev.Channels
		switch prev.State {
		case StateResolved:
			e.keepResolved(prev)
			continue
		case StatePending:
			continue
		}
		if prev.Rule == EscalationRule {
			if src, ok := e.res.Alerts[AlertKey(prev.Source, prev.Target)]; ok && src.State == StateFiring {
				a := prev.clone()
				e.res.Alerts[key] = a
				if e.in.Now.Sub(a.LastNotified) >= e.in.DefaultRepeat {
					e.notify(NotifyRepeat, key, channels, e.in.DefaultRepeat)
				}
				continue
			}
		}
		a := prev.clone()
		a.State, a.ResolvedAt = StateResolved, e.in.Now
		e.res.Alerts[key] = a
		if !a.LastNotified.IsZero() {
			e.notify(NotifyResolved, key, channels, e.in.DefaultRepeat)
		}
		why := "its target or rule is gone"
		if prev.Rule == EscalationRule {
			why = "rule " + prev.Source + " resolved"
		}
		e.event(EventAlert, prev.Rule, prev.Target, "resolved: "+why)
	}
}

// ErrorsOf joins a result's evaluation errors for logging.
func ErrorsOf(res Result) error {
	errs := make([]error, 0, len(res.Errors))
	for _, x := range res.Errors {
		errs = append(errs, fmt.Errorf("rule %s on %s: %w", x.Rule, x.Target, x.Err))
	}
	return errors.Join(errs...)
}

// TestResult is one target's outcome of a dry run.
type TestResult struct {
	Target string
	Holds  bool
	Err    error
}

// Test evaluates one rule on every target of its scope at now without stepping any state: what
// the rule would see.
func Test(c *Compiled, snap Snapshot, bl Baselines, now time.Time, o BaselineOptions) []TestResult {
	e := &evaluator{in: Input{Snapshot: snap, Baselines: bl, Now: now, BaselineOptions: o}}
	var out []TestResult
	targets := e.targets(c.Rule.Scope)
	for i := range targets {
		t := &targets[i]
		ok, err := c.eval(t)
		out = append(out, TestResult{Target: t.target, Holds: ok, Err: err})
	}
	return out
}
