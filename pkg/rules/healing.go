package rules

import (
	"fmt"
	"maps"
	"slices"
	"time"
)

// HealingPolicy holds the guards of healing actions.
type HealingPolicy struct {
	// MaxPerNodePerHour caps healing executions on one node in any hour (escalation drains
	// excepted, since they protect the pool). 0 means no action runs.
	MaxPerNodePerHour int
	// EscalateAfter is how many failed attempts of one rule on one node within EscalateWindow
	// make the next attempt an escalation: drain the node and raise a critical alert. An attempt
	// failed when its command failed or expired, or when it succeeded but the alert it answered
	// kept firing. 0 never escalates.
	EscalateAfter  int
	EscalateWindow time.Duration
	// MinHealthy is the fewest ready nodes a pool keeps when healing drains one, unless the
	// rule's action or PoolMinHealthy says otherwise.
	MinHealthy     int
	PoolMinHealthy map[string]int
}

// DefaultHealingPolicy is three executions per node per hour, escalation after three failed
// attempts in 30 minutes, and at least one ready node per pool.
func DefaultHealingPolicy() HealingPolicy {
	return HealingPolicy{MaxPerNodePerHour: 3, EscalateAfter: 3, EscalateWindow: 30 * time.Minute, MinHealthy: 1}
}

// Outcome is how a healing execution ended.
type Outcome string

// The outcomes.
const (
	OutcomePending   Outcome = "pending"
	OutcomeSucceeded Outcome = "succeeded"
	OutcomeFailed    Outcome = "failed"
)

// Execution is one healing command the control plane issued, with its outcome so far.
type Execution struct {
	Node       string
	Rule       string
	Kind       ActionKind
	Time       time.Time
	Outcome    Outcome
	Escalation bool
}

// Decision is a healing command to issue.
type Decision struct {
	Node       string
	Pool       string
	Rule       string
	Kind       ActionKind
	Params     map[string]string
	Reason     string
	Escalation bool
	// Urgent decisions run at once even outside the node's pool's maintenance window (the
	// rule's urgent).
	Urgent bool
}

// EventKind classifies events.
type EventKind string

// The event kinds.
const (
	EventAlert   EventKind = "alert"
	EventHealing EventKind = "healing"
	// EventCutOff: the evaluation's time budget ran out before the rule was evaluated on every
	// target.
	EventCutOff EventKind = "cutoff"
)

// Event records one decision with its reason.
type Event struct {
	Time    time.Time
	Kind    EventKind
	Rule    string
	Target  string
	Message string
}

// minHealthy is the pool minimum that applies to rule r's action.
func (p HealingPolicy) minHealthy(a *Action, pool string) int {
	if a != nil && a.MinHealthy > 0 {
		return a.MinHealthy
	}
	if m, ok := p.PoolMinHealthy[pool]; ok {
		return m
	}
	return p.MinHealthy
}

// drainGuard returns why draining n would leave its pool below its minimum, or "".
func drainGuard(n Node, pool Pool, minHealthy int) string {
	after := pool.Healthy
	if n.State == "ready" {
		after--
	}
	if after < int64(minHealthy) {
		return fmt.Sprintf("draining would leave pool %s with %d ready nodes, below its minimum of %d", pool.Name, after, minHealthy)
	}
	return ""
}

// heal considers the healing action of firing alert a of compiled rule c on node n, updating a
// and appending to res.
func (e *evaluator) heal(c *Compiled, a *Alert, n Node) {
	r := c.Rule
	now := e.in.Now
	retry := r.Action.Retry
	if retry == 0 {
		retry = DefaultActionRetry
	}
	if a.Escalated || (!a.LastAction.IsZero() && now.Sub(a.LastAction) < retry) {
		return
	}
	failed := 0
	hourly := 0
	for _, x := range e.in.Executions {
		if x.Node != n.ID {
			continue
		}
		if !x.Escalation && now.Sub(x.Time) < time.Hour {
			hourly++
		}
		if x.Rule != r.Name {
			continue
		}
		if x.Outcome == OutcomePending {
			return // the last attempt has not finished; judge it first
		}
		if now.Sub(x.Time) < e.in.Policy.EscalateWindow &&
			(x.Outcome == OutcomeFailed || (x.Outcome == OutcomeSucceeded && !x.Time.Before(a.FiredAt))) {
			failed++
		}
	}
	a.LastAction = now
	target := NodeTarget(n.ID)
	pool := e.in.Snapshot.pool(n.Pool)
	p := e.in.Policy
	if p.EscalateAfter > 0 && failed >= p.EscalateAfter {
		e.escalate(c, a, n, pool, failed)
		return
	}
	if hourly >= p.MaxPerNodePerHour {
		e.event(EventHealing, r.Name, target, fmt.Sprintf("%s not run: node %s already had %d healing executions in the last hour (limit %d)",
			r.Action.Kind, n.ID, hourly, p.MaxPerNodePerHour))
		return
	}
	if r.Action.Kind == ActionDrain {
		if why := drainGuard(n, pool, p.minHealthy(r.Action, n.Pool)); why != "" {
			e.event(EventHealing, r.Name, target, "drain not run: "+why)
			return
		}
	}
	reason := fmt.Sprintf("rule %s firing since %s: %s", r.Name, a.FiredAt.UTC().Format(time.RFC3339), r.Condition)
	if failed > 0 {
		reason += fmt.Sprintf(" (attempt %d; %d earlier attempts did not heal)", failed+1, failed)
	}
	e.res.Decisions = append(e.res.Decisions, Decision{
		Node: n.ID, Pool: n.Pool, Rule: r.Name, Kind: r.Action.Kind, Params: maps.Clone(r.Action.Params), Reason: reason, Urgent: r.Urgent,
	})
	e.event(EventHealing, r.Name, target, fmt.Sprintf("%s on node %s: %s", r.Action.Kind, n.ID, reason))
}

// escalate drains n (unless that breaks its pool's minimum) and raises the critical
// escalation alert.
func (e *evaluator) escalate(c *Compiled, a *Alert, n Node, pool Pool, failed int) {
	r := c.Rule
	now := e.in.Now
	target := NodeTarget(n.ID)
	a.Escalated = true
	summary := fmt.Sprintf("%s of rule %s failed %d times within %s on node %s", r.Action.Kind, r.Name, failed, e.in.Policy.EscalateWindow, n.ID)
	if why := drainGuard(n, pool, e.in.Policy.minHealthy(r.Action, n.Pool)); why != "" {
		summary += "; not drained: " + why
	} else if n.State == "ready" {
		summary += "; draining the node"
		e.res.Decisions = append(e.res.Decisions, Decision{
			Node: n.ID, Pool: n.Pool, Rule: r.Name, Kind: ActionDrain, Reason: "escalation: " + summary, Escalation: true,
		})
	}
	e.event(EventHealing, r.Name, target, "escalated: "+summary)
	esc := Alert{
		Rule: EscalationRule, Target: target, Node: n.ID, Pool: n.Pool, State: StateFiring, Severity: SeverityCritical,
		Labels: map[string]string{
			"alertname": EscalationRule, "severity": string(SeverityCritical), "node": n.ID, "pool": n.Pool, "rule": r.Name,
		},
		Annotations: map[string]string{"summary": summary},
		ActiveSince: now, FiredAt: now, Source: r.Name, Channels: slices.Clone(r.Notify),
	}
	e.res.Alerts[esc.Key()] = esc
	e.notify(NotifyFiring, esc.Key(), r.Notify, e.repeat(r))
	e.event(EventAlert, EscalationRule, target, "firing: "+summary)
}
