package alerts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dspyfleet/dspyfleet/controlplane/check"
	"github.com/dspyfleet/dspyfleet/controlplane/commands"
	"github.com/dspyfleet/dspyfleet/controlplane/fleet"
	"github.com/dspyfleet/dspyfleet/controlplane/stats"
	"github.com/dspyfleet/dspyfleet/controlplane/store"
	"github.com/dspyfleet/dspyfleet/internal/wire"
	"github.com/dspyfleet/dspyfleet/pkg/command"
	"github.com/dspyfleet/dspyfleet/pkg/reqstats"
	"github.com/dspyfleet/dspyfleet/pkg/rules"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// baselineSaveInterval is how often the baselines are written to the store; a restart loses at
// most this much of their history.
const baselineSaveInterval = 5 * time.Minute

// silenceRetention is how long an ended silence stays listed.
const silenceRetention = 7 * 24 * time.Hour

// executionRetention is how long healing executions are kept: long enough for the hourly rate
// guard and the escalation window.
const executionRetention = 2 * time.Hour

// Alerter runs the rules: the reconcile step "alerts" builds the snapshot, evaluates, issues
// healing commands through the command queue, persists alert states and events, and hands
// notifications to the notifier without waiting for them.
type Alerter struct {
	cfg      Config
	log      *slog.Logger
	store    *store.Store
	reg      *fleet.Registry
	stats    *stats.Requests
	cmds     *commands.Queue
	notifier *Notifier
	metrics  *alertMetrics
	// Budgets returns every budget's standing; nil means none are tracked.
	Budgets func() (*fleetv1.ListBudgetsResponse, error)
	// Logs returns a node's log figures (node.logs); nil means no node has any.
	Logs func(node string) rules.Logs
	// ScalingMin returns each scaled pool's minimum size; nil means no pool is scaled.
	ScalingMin func() map[string]int
	// Busy reports a deployment or maintenance window working on a pool or node: healing waits
	// for it rather than fight it. Nil means never.
	Busy func(pool, node string) (bool, string)

	// apiMu orders the API calls that change rules or silences (see api.go), and the step's
	// deletion of expired silences.
	apiMu sync.Mutex
	// stepMu runs one step at a time; only steps change alerts, baselines, unsaved and
	// baselinesSaved, and read and write resumeAt.
	stepMu sync.Mutex
	// resumeAt is the rule the next step evaluates first, then the rules after it and those
	// before it ("" when the last step was not cut off: all in name order). It is the first rule
	// the last step's time budget cut off, or the one after that when it was the first
	// evaluated, so every rule gets its turn even when one alone outlasts the budget.
	resumeAt string
	// clock reads the time for the step's budget: time.Now, replaced in tests.
	clock func() time.Time
	// blMu guards the contents of baselines, which a step updates in place: the step's
	// evaluation and Test read under it, the update writes under it.
	blMu       sync.RWMutex
	mu         sync.Mutex
	stored     map[string]*fleetv1.AlertRule
	compiled   map[string]*rules.Compiled
	alerts     map[string]rules.Alert
	silences   map[string]*fleetv1.Silence
	executions map[string]*fleetv1.HealingExecution // by command id
	baselines  rules.Baselines
	// unsaved is set when writing the alert states failed: the next write stores them all.
	unsaved bool
	// baselinesSaved is when the baselines were last written.
	baselinesSaved time.Time
}

// New loads the alerter's state, storing the default rules on a new data file.
func New(cfg Config, log *slog.Logger, st *store.Store, reg *fleet.Registry, stats *stats.Requests, cmds *commands.Queue, n *Notifier, m *alertMetrics) (*Alerter, error) {
	state, err := loadAlerts(st)
	if err != nil {
		return nil, err
	}
	if !state.seeded {
		defaults := defaultRuleProtos()
		if err := seedRules(st, defaults); err != nil {
			return nil, fmt.Errorf("store the default alert rules: %w", err)
		}
		state.rules = append(state.rules, defaults...)
	}
	a := &Alerter{
		cfg: cfg, log: log, store: st, reg: reg, stats: stats, cmds: cmds, notifier: n, metrics: m,
		stored: make(map[string]*fleetv1.AlertRule), compiled: make(map[string]*rules.Compiled),
		alerts: make(map[string]rules.Alert), silences: make(map[string]*fleetv1.Silence),
		executions: make(map[string]*fleetv1.HealingExecution), baselines: rules.Baselines{},
		clock: time.Now,
	}
	for _, p := range state.rules {
		a.stored[p.GetName()] = p
		c, err := rules.Compile(cfg.expandDefault(ruleFromProto(p)), rules.Options{Channels: cfg.channelNames()})
		if err != nil {
			log.Warn("stored alert rule does not compile with this configuration; it is kept but not evaluated until fixed",
				"rule", p.GetName(), "err", err)
			continue
		}
		a.compiled[p.GetName()] = c
	}
	for _, p := range state.alerts {
		x := alertFromProto(p)
		a.alerts[x.Key()] = x
	}
	for _, s := range state.silences {
		a.silences[s.GetId()] = s
	}
	for _, x := range state.executions {
		a.executions[x.GetCommandId()] = x
	}
	if a.baselines, err = loadBaselines(st); err != nil {
		return nil, err
	}
	m.events.Set(float64(state.events))
	a.logNotifications()
	return a, nil
}

// logNotifications says at startup which rules notify which channel, and warns of a configured
// channel no rule notifies: a channel given alone would otherwise stay silent unnoticed.
func (a *Alerter) logNotifications() {
	by := map[string][]string{}
	for _, name := range slices.Sorted(maps.Keys(a.compiled)) {
		r := a.compiled[name].Rule
		if r.Disabled {
			continue
		}
		for _, ch := range r.Notify {
			by[ch] = append(by[ch], name)
		}
	}
	attrs := []any{}
	for _, ch := range slices.Sorted(maps.Keys(by)) {
		attrs = append(attrs, ch, strings.Join(by[ch], ","))
	}
	a.log.Info("alert rules notify", attrs...)
	for _, ch := range a.cfg.Channels {
		if len(by[ch.Name]) == 0 {
			a.log.Warn("alert channel is configured but no rule notifies it: add it, or \"default\", to the rules' notify (fleetctl alerts rule set)",
				"channel", ch.Name, "kind", ch.Kind)
		}
	}
}

// compile checks a rule against the configured channels.
func (a *Alerter) compile(p *fleetv1.AlertRule) (*rules.Compiled, error) {
	c, err := rules.Compile(a.cfg.expandDefault(ruleFromProto(p)), rules.Options{Channels: a.cfg.channelNames()})
	if err != nil {
		return nil, fmt.Errorf("%w: rule: %v", check.ErrInvalidArgument, err)
	}
	return c, nil
}

// Reconcile is the reconcile step: one evaluation of every rule at now. Steps run one at a
// time (stepMu). The evaluation, the healing commands and the store writes run without mu, so
// API calls that read or change alerts, rules and silences wait for at most the short sections
// that take the step's inputs and hand over its results: at 10,000 nodes an evaluation takes
// about half a second (BENCHMARKS.md section 8). A rule changed during a step counts from the
// next step, as one changed just after it would.
func (a *Alerter) Reconcile(_ context.Context, now time.Time) error {
	a.stepMu.Lock()
	defer a.stepMu.Unlock()
	snap, err := a.snapshot(now)
	if err != nil {
		return err
	}
	in, changedExecs, expired, unsaved := a.inputs(snap, now)
	in.Budget, in.Clock = a.cfg.StepBudget, a.clock
	sorted := in.Rules
	in.Rules = rotate(sorted, a.resumeAt)
	var errs []error
	a.blMu.RLock()
	res := rules.Evaluate(in)
	a.blMu.RUnlock()
	a.resumeAt = ""
	if len(res.CutOff) > 0 {
		a.resumeAt = res.CutOff[0].Rule
		if i := slices.IndexFunc(in.Rules, func(c *rules.Compiled) bool { return !c.Rule.Disabled }); i >= 0 && in.Rules[i].Rule.Name == a.resumeAt {
			j := slices.IndexFunc(sorted, func(c *rules.Compiled) bool { return c.Rule.Name > a.resumeAt })
			a.resumeAt = ""
			if j >= 0 {
				a.resumeAt = sorted[j].Rule.Name
			}
		}
		a.metrics.cutOff.Add(float64(len(res.CutOff)))
		a.log.Warn("alert rules cut off: the step's time budget was spent before they were evaluated on every target; they are evaluated first next step",
			"rules", len(res.CutOff), "first", res.CutOff[0].Rule, "budget", in.Budget)
	}
	a.blMu.Lock()
	a.baselines = rules.UpdateBaselines(a.baselines, snap, now, in.BaselineOptions)
	a.blMu.Unlock()
	if now.Sub(a.baselinesSaved) >= baselineSaveInterval {
		a.blMu.RLock()
		err := saveBaselines(a.store, a.baselines)
		a.blMu.RUnlock()
		if err != nil {
			errs = append(errs, fmt.Errorf("write baselines: %w", err))
		} else {
			a.baselinesSaved = now
		}
	}
	for _, e := range res.Errors {
		a.metrics.evalErrors.Inc()
		a.log.Debug("alert rule could not be evaluated", "rule", e.Rule, "target", e.Target, "err", e.Err)
	}

	w := alertsWrite{alerts: make(map[string]*fleetv1.Alert), replaceAll: unsaved, executions: changedExecs, maxEvents: a.cfg.MaxEvents}
	events := make([]*fleetv1.AlertEvent, 0, len(res.Events))
	for _, ev := range res.Events {
		events = append(events, &fleetv1.AlertEvent{Time: timestamppb.New(ev.Time), Kind: string(ev.Kind), Rule: ev.Rule, Target: ev.Target, Message: ev.Message})
	}
	issued := make(map[string]*fleetv1.HealingExecution)
	for _, d := range res.Decisions {
		ev := &fleetv1.AlertEvent{Time: timestamppb.New(now), Kind: string(rules.EventHealing), Rule: d.Rule, Target: rules.NodeTarget(d.Node)}
		if busy, why := a.maintenance(snap, d.Node); busy {
			a.metrics.healing.WithLabelValues(string(d.Kind), "held").Inc()
			ev.Message = fmt.Sprintf("%s on node %s held: %s", d.Kind, d.Node, why)
			events = append(events, ev)
			continue
		}
		rec, err := a.issue(d)
		if err != nil {
			a.metrics.healing.WithLabelValues(string(d.Kind), "error").Inc()
			ev.Message = fmt.Sprintf("%s on node %s could not be queued: %v", d.Kind, d.Node, err)
			errs = append(errs, err)
		} else {
			result := "issued"
			if d.Escalation {
				result = "escalation"
			}
			a.metrics.healing.WithLabelValues(string(d.Kind), result).Inc()
			id := rec.GetCommand().GetId()
			x := &fleetv1.HealingExecution{NodeId: d.Node, Rule: d.Rule, Kind: rec.GetCommand().GetKind(), Time: timestamppb.New(now),
				CommandId: id, Outcome: string(rules.OutcomePending), Escalation: d.Escalation}
			issued[id] = x
			w.executions[id] = x
			ev.CommandId = id
			ev.Message = fmt.Sprintf("queued %s command %s on node %s", d.Kind, id, d.Node)
			if rec.GetState() == fleetv1.CommandState_COMMAND_STATE_HELD {
				ev.Message = fmt.Sprintf("%s command %s on node %s %s", d.Kind, id, d.Node, rec.GetDetail())
			} else if rec.GetWindowOverridden() {
				ev.Message += " at once (urgent rule: " + rec.GetDetail() + ")"
			}
		}
		events = append(events, ev)
	}
	w.events = events
	// Only steps change a.alerts, so it is read here without mu.
	for k, x := range res.Alerts {
		if prev, ok := a.alerts[k]; unsaved || !ok || !alertEqual(prev, x) {
			w.alerts[k] = alertToProto(x)
		}
	}
	for k := range a.alerts {
		if _, ok := res.Alerts[k]; !ok {
			w.alerts[k] = nil
		}
	}
	saved := true
	if w.replaceAll || len(w.alerts) > 0 || len(w.executions) > 0 || len(w.events) > 0 {
		n, err := writeAlerts(a.store, w)
		if err != nil {
			saved = false
			errs = append(errs, fmt.Errorf("write alert states: %w", err))
		} else {
			a.metrics.events.Set(float64(n))
		}
	}
	a.mu.Lock()
	a.alerts = res.Alerts
	maps.Copy(a.executions, issued)
	a.unsaved = !saved
	a.mu.Unlock()
	a.metrics.setStates(res.Alerts)
	for _, n := range res.Notifications {
		a.notifier.enqueue(n)
	}
	a.notifier.resend(now, res.Alerts, in.Silences)
	errs = append(errs, a.forgetSilences(expired)...)
	for _, ev := range events {
		a.log.Info("alert event", "kind", ev.GetKind(), "rule", ev.GetRule(), "target", ev.GetTarget(), "message", ev.GetMessage())
	}
	return errors.Join(errs...)
}

// rotate returns the rules sorted by name starting at the first named from on, then those
// before it.
func rotate(sorted []*rules.Compiled, from string) []*rules.Compiled {
	i := slices.IndexFunc(sorted, func(c *rules.Compiled) bool { return c.Rule.Name >= from })
	if i <= 0 {
		return sorted
	}
	return slices.Concat(sorted[i:], sorted[:i])
}

// inputs takes what an evaluation at now reads, under mu: the rules, silences and executions
// (finished outcomes settled first, whose changes it returns to persist), the ids of silences
// past their retention, and whether the last write of the alert states failed.
func (a *Alerter) inputs(snap rules.Snapshot, now time.Time) (in rules.Input, changedExecs map[string]*fleetv1.HealingExecution, expired []string, unsaved bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	changedExecs = a.settleExecutionsLocked(now)
	in = rules.Input{
		Now: now, Snapshot: snap, Baselines: a.baselines, BaselineOptions: rules.DefaultBaselineOptions(),
		Alerts: a.alerts, Policy: a.healingPolicy(), DefaultRepeat: a.cfg.DefaultRepeat, ResolvedRetention: a.cfg.ResolvedRetention,
	}
	for _, name := range slices.Sorted(maps.Keys(a.compiled)) {
		in.Rules = append(in.Rules, a.compiled[name])
	}
	for id, s := range a.silences {
		if now.Sub(s.GetEnd().AsTime()) > silenceRetention {
			expired = append(expired, id)
			continue
		}
		in.Silences = append(in.Silences, silenceFromProto(s))
	}
	for _, x := range a.executions {
		in.Executions = append(in.Executions, rules.Execution{
			Node: x.GetNodeId(), Rule: x.GetRule(), Kind: rules.ActionKind(wire.CommandKind(x.GetKind())), Time: x.GetTime().AsTime(),
			Outcome: rules.Outcome(x.GetOutcome()), Escalation: x.GetEscalation(),
		})
	}
	return in, changedExecs, expired, a.unsaved
}

// forgetSilences deletes silences past their retention, ordered with the API's writes (apiMu).
func (a *Alerter) forgetSilences(ids []string) []error {
	if len(ids) == 0 {
		return nil
	}
	a.apiMu.Lock()
	defer a.apiMu.Unlock()
	var errs []error
	for _, id := range ids {
		if err := a.removeSilenceLocked(id); err != nil {
			errs = append(errs, fmt.Errorf("delete silence %s: %w", id, err))
		}
	}
	return errs
}

// alertEqual reports whether two states would be stored alike.
func alertEqual(x, y rules.Alert) bool {
	return proto.Equal(alertToProto(x), alertToProto(y))
}

// settleExecutionsLocked copies finished command outcomes into the healing executions and
// forgets executions past the retention; it returns the changes to persist.
func (a *Alerter) settleExecutionsLocked(now time.Time) map[string]*fleetv1.HealingExecution {
	changed := make(map[string]*fleetv1.HealingExecution)
	for id, x := range a.executions {
		if now.Sub(x.GetTime().AsTime()) > executionRetention {
			delete(a.executions, id)
			changed[id] = nil
			continue
		}
		if x.GetOutcome() != string(rules.OutcomePending) {
			continue
		}
		rec, err := a.cmds.Get(id)
		switch {
		case err != nil:
			x.Outcome = string(rules.OutcomeFailed)
		case rec.GetState() == fleetv1.CommandState_COMMAND_STATE_SUCCEEDED:
			x.Outcome = string(rules.OutcomeSucceeded)
		case commands.Terminal(rec.GetState()):
			x.Outcome = string(rules.OutcomeFailed)
		default:
			continue
		}
		changed[id] = x
	}
	return changed
}

// issue queues a healing command; a drain also moves the node to draining, as DrainNode does. A
// disruptive one waits for the node's pool's maintenance window unless its rule is urgent.
func (a *Alerter) issue(d rules.Decision) (*fleetv1.CommandRecord, error) {
	kind := commandKind(d.Kind)
	params := maps.Clone(d.Params)
	timeout := commands.DefaultTimeout
	if kind == fleetv1.CommandKind_COMMAND_KIND_DRAIN {
		drain := command.DrainTimeout(params, commands.DefaultDrainTimeout)
		if params == nil {
			params = map[string]string{}
		}
		params[command.ParamTimeout] = drain.String()
		timeout += drain
	}
	gate := commands.HeldByWindow
	if d.Urgent {
		gate = commands.OverrideWindow
	}
	rec, hold, err := a.cmds.Submit(context.Background(), d.Node, kind, params, timeout, "rule:"+d.Rule, d.Reason, gate)
	if err != nil {
		return nil, err
	}
	switch {
	case hold.Held() && d.Urgent:
		a.log.Warn("urgent healing command overrides a maintenance window", "rule", d.Rule, "node", d.Node, "command", rec.GetCommand().GetId(), "window", hold.Window, "pool", hold.Pool)
	case hold.Held():
		a.log.Info("healing command held for a maintenance window", "rule", d.Rule, "node", d.Node, "command", rec.GetCommand().GetId(), "reason", hold.Reason())
	}
	if kind == fleetv1.CommandKind_COMMAND_KIND_DRAIN {
		if err := a.reg.SetDrain(d.Node, true, false, "drained by rule "+d.Rule+": "+d.Reason); err != nil {
			return rec, err
		}
	}
	return rec, nil
}

// snapshot gathers what conditions read: nodes from the registry, DSPy figures from the
// request rollups of the last window.
func (a *Alerter) snapshot(now time.Time) (rules.Snapshot, error) {
	nodes := a.reg.ListShared()
	byPool := make(map[string][]*fleetv1.Node)
	for _, n := range nodes {
		byPool[n.GetPool()] = append(byPool[n.GetPool()], n)
	}
	snap := rules.Snapshot{Nodes: make([]rules.Node, 0, len(nodes))}
	// One total per node, pool and the fleet, reused: the figures of 10,000 nodes every step
	// cost no garbage once the sketches have grown.
	var node, pool, fleetTotals reqstats.Totals
	for _, name := range slices.Sorted(maps.Keys(byPool)) {
		windows, err := a.stats.Window(name, now.Add(-a.cfg.Window))
		if err != nil {
			return snap, fmt.Errorf("read request rollups of pool %s: %w", name, err)
		}
		p := rules.Pool{Name: name}
		pool.Reset()
		var reporting int
		var inFlight, queue int64
		for _, n := range byPool[name] {
			rn := snapshotNode(n, now)
			node.Reset()
			// Rollups of another sketch accuracy, which one control plane never writes, leave
			// the node's request figures at zero and out of its pool's rather than failing
			// every rule.
			if err := node.Add(windows[n.GetId()]...); err != nil {
				node.Reset()
			}
			if err := pool.AddTotals(&node); err != nil {
				node.Reset()
			}
			rn.DSPy = dspyOf(node.Window(), rn.DSPy.InFlight, rn.DSPy.QueueLength)
			if a.Logs != nil {
				rn.Logs = a.Logs(n.GetId())
			}
			snap.Nodes = append(snap.Nodes, rn)
			p.Nodes++
			switch n.GetState() {
			case fleetv1.NodeState_NODE_STATE_READY:
				p.Healthy++
			case fleetv1.NodeState_NODE_STATE_DOWN, fleetv1.NodeState_NODE_STATE_DISCONNECTED:
				p.Down++
			}
			if rn.Up && n.GetLastReport().GetHost() != nil {
				reporting++
				p.CPU += rn.Host.CPU
				p.Memory += rn.Host.Memory
				inFlight += rn.DSPy.InFlight
				queue += rn.DSPy.QueueLength
			}
		}
		if reporting > 0 {
			p.CPU /= float64(reporting)
			p.Memory /= float64(reporting)
		}
		p.DSPy = dspyOf(pool.Window(), inFlight, queue)
		if err := fleetTotals.AddTotals(&pool); err != nil {
			a.log.Warn("pool request figures left out of the fleet's: sketches of another accuracy", "pool", name, "err", err)
		}
		snap.Pools = append(snap.Pools, p)
		snap.Fleet.Nodes += p.Nodes
		snap.Fleet.Healthy += p.Healthy
		snap.Fleet.Down += p.Down
	}
	var inFlight, queue int64
	for _, p := range snap.Pools {
		inFlight += p.DSPy.InFlight
		queue += p.DSPy.QueueLength
	}
	snap.Fleet.DSPy = dspyOf(fleetTotals.Window(), inFlight, queue)
	if a.Budgets != nil {
		listed, err := a.Budgets()
		if err != nil {
			return snap, fmt.Errorf("read budgets: %w", err)
		}
		budgetShares(&snap, listed.GetBudgets())
	}
	return snap, nil
}

// maintenance reports whether a deployment or maintenance window works on node or its pool.
func (a *Alerter) maintenance(snap rules.Snapshot, node string) (bool, string) {
	if a.Busy == nil {
		return false, ""
	}
	for _, n := range snap.Nodes {
		if n.ID == node {
			return a.Busy(n.Pool, node)
		}
	}
	return a.Busy("", node)
}

// healingPolicy is the configured healing policy, with each scaled pool's minimum size as the
// fewest ready nodes healing may leave it, where that is more than the configured minimum.
func (a *Alerter) healingPolicy() rules.HealingPolicy {
	p := a.cfg.policy()
	if a.ScalingMin == nil {
		return p
	}
	mins := a.ScalingMin()
	if len(mins) == 0 {
		return p
	}
	pools := make(map[string]int, len(p.PoolMinHealthy)+len(mins))
	maps.Copy(pools, p.PoolMinHealthy)
	for pool, m := range mins {
		floor := p.MinHealthy
		if v, ok := pools[pool]; ok {
			floor = v
		}
		pools[pool] = max(floor, m)
	}
	p.PoolMinHealthy = pools
	return p
}

// budgetShares sets the pools' and the fleet's budget use from the budgets' standing: a pool
// budget counts for its pool and the fleet, a fleet or program budget for the fleet.
func budgetShares(snap *rules.Snapshot, budgets []*fleetv1.BudgetStatus) {
	for _, st := range budgets {
		limit := st.GetBudget().GetLimitUsd()
		if limit <= 0 {
			continue
		}
		used, forecast := st.GetUsed(), st.GetForecastUsd()/limit
		snap.Fleet.BudgetUsed = max(snap.Fleet.BudgetUsed, used)
		snap.Fleet.BudgetForecast = max(snap.Fleet.BudgetForecast, forecast)
		for i := range snap.Pools {
			if p := &snap.Pools[i]; p.Name == st.GetBudget().GetPool() {
				p.BudgetUsed = max(p.BudgetUsed, used)
				p.BudgetForecast = max(p.BudgetForecast, forecast)
			}
		}
	}
}

// snapshotNode converts a node's state and last report; DSPy figures other than in-flight and
// queue length come from the rollups.
func snapshotNode(n *fleetv1.Node, now time.Time) rules.Node {
	rep := n.GetLastReport()
	h := rep.GetHost()
	rn := rules.Node{
		ID: n.GetId(), Pool: n.GetPool(), State: fleet.StateName(n.GetState()), Labels: maps.Clone(n.GetLabels()),
		Up: fleet.Connected(n.GetState()),
		Host: rules.Host{
			CPU: h.GetCpuPercent(), Memory: h.GetMemoryUsedPercent(), Load1: h.GetLoad1(),
			Disk: make(map[string]float64, len(h.GetDisks())),
		},
		DSPy: rules.DSPy{InFlight: int64(rep.GetApp().GetInFlight()), QueueLength: int64(rep.GetApp().GetQueueLength())},
		Security: rules.Security{
			SSHFailures: int64(rep.GetSecurity().GetSshFailures()), SudoFailures: int64(rep.GetSecurity().GetSudoFailures()),
			NewListeners: int64(rep.GetSecurity().GetNewListeners()), FileChanged: int64(rep.GetSecurity().GetFileChanged()),
		},
	}
	if rn.Labels == nil {
		rn.Labels = map[string]string{}
	}
	for _, d := range h.GetDisks() {
		rn.Host.Disk[d.GetMountpoint()] = d.GetUsedPercent()
		rn.Host.DiskMax = max(rn.Host.DiskMax, d.GetUsedPercent())
	}
	if ls := n.GetLastSeen(); ls != nil {
		rn.ReportAgeSeconds = max(now.Sub(ls.AsTime()).Seconds(), 0)
	}
	return rn
}

// dspyOf turns merged rollups into the figures conditions read.
func dspyOf(w reqstats.Window, inFlight, queue int64) rules.DSPy {
	d := rules.DSPy{InFlight: inFlight, QueueLength: queue}
	d.Requests, d.Errors = int64(w.Requests), int64(w.Errors)
	d.ErrorRate, d.RPS, d.CacheHit = w.ErrorRate(), w.RequestsPerSecond(), w.CacheHitRatio()
	d.InputTokens, d.OutputTokens = int64(w.InputTokens), int64(w.OutputTokens)
	if w.Latency != nil {
		d.P50Ms, d.P95Ms, d.P99Ms = w.Latency.Quantile(0.5), w.Latency.Quantile(0.95), w.Latency.Quantile(0.99)
	}
	if w.TTFT != nil {
		d.TTFTMs = w.TTFT.Quantile(0.95)
	}
	return d
}
