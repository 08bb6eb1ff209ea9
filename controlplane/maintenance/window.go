package maintenance

import (
	"cmp"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dspyfleet/dspyfleet/controlplane/check"
	"github.com/dspyfleet/dspyfleet/controlplane/commands"
	"github.com/dspyfleet/dspyfleet/controlplane/fleet"
	"github.com/dspyfleet/dspyfleet/controlplane/router"
	"github.com/dspyfleet/dspyfleet/controlplane/store"
	"github.com/dspyfleet/dspyfleet/pkg/command"
	"github.com/dspyfleet/dspyfleet/pkg/maintenance"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// Maintenance node phases beyond the deployment ones.
const (
	phaseTasks     = "tasks"
	phaseSkipped   = "skipped"
	phaseCancelled = "cancelled"
)

// Windows runs maintenance windows: the maintenance step of the reconcile loop opens them on
// time and takes their nodes one at a time through drain → tasks → undrain, within the pool's
// maximum unavailable and minimum healthy.
type Windows struct {
	executor
	// Deploying reports whether a deployment is in progress on a pool; a window does not open
	// over one.
	Deploying func(pool, node string) (bool, string)

	runSet[*fleetv1.Maintenance, *windowRun]
}

// windowRun is one window with its parsed spec.
type windowRun struct {
	key  []byte
	m    *fleetv1.Maintenance
	spec maintenance.WindowSpec
}

func (r *windowRun) record() *fleetv1.Maintenance { return r.m }
func (r *windowRun) pool() string                 { return r.m.GetSpec().GetPool() }
func (r *windowRun) storeKey() []byte             { return r.key }

// NewWindows loads the stored maintenance windows; Reconcile opens and runs them on schedule.
func NewWindows(st *store.Store, reg *fleet.Registry, cmds *commands.Queue, rt *router.Router, now func() time.Time, log *slog.Logger, drainGrace time.Duration) (*Windows, error) {
	w := &Windows{executor: executor{st, reg, cmds, rt, now, log, drainGrace}}
	w.init("maintenance window", "fleetctl maint list")
	err := st.View(func(tx *store.Tx) error {
		return tx.Bucket(store.Maintenance).ForEach(func(k, v []byte) error {
			m := &fleetv1.Maintenance{}
			if err := proto.Unmarshal(v, m); err != nil {
				return fmt.Errorf("%w: maintenance window %x: %v", store.ErrCorruptStore, k, err)
			}
			w.runs[m.GetId()] = &windowRun{key: slices.Clone(k), m: m, spec: windowSpec(m.GetSpec())}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	for _, r := range w.runs {
		if r.m.GetFinished() == nil {
			rt.SetOverrides(windowOwner(r.m), windowOverrides(r.m))
		}
	}
	return w, nil
}

// windowOwner names a window's routing overrides.
func windowOwner(m *fleetv1.Maintenance) string { return "maintenance " + m.GetId() }

// taskKinds maps the API's task kinds to the vocabulary's.
var taskKinds = map[fleetv1.MaintenanceTaskKind]string{
	fleetv1.MaintenanceTaskKind_MAINTENANCE_TASK_KIND_RESTART: maintenance.TaskRestart,
	fleetv1.MaintenanceTaskKind_MAINTENANCE_TASK_KIND_CLEANUP: maintenance.TaskCleanup,
	fleetv1.MaintenanceTaskKind_MAINTENANCE_TASK_KIND_DEPLOY:  maintenance.TaskDeploy,
	fleetv1.MaintenanceTaskKind_MAINTENANCE_TASK_KIND_BACKUP:  maintenance.TaskBackup,
	fleetv1.MaintenanceTaskKind_MAINTENANCE_TASK_KIND_CUSTOM:  maintenance.TaskCustom,
}

// taskCommands maps task kinds to the commands that run them.
var taskCommands = map[fleetv1.MaintenanceTaskKind]fleetv1.CommandKind{
	fleetv1.MaintenanceTaskKind_MAINTENANCE_TASK_KIND_RESTART: fleetv1.CommandKind_COMMAND_KIND_RESTART,
	fleetv1.MaintenanceTaskKind_MAINTENANCE_TASK_KIND_CLEANUP: fleetv1.CommandKind_COMMAND_KIND_CLEANUP,
	fleetv1.MaintenanceTaskKind_MAINTENANCE_TASK_KIND_DEPLOY:  fleetv1.CommandKind_COMMAND_KIND_DEPLOY,
	fleetv1.MaintenanceTaskKind_MAINTENANCE_TASK_KIND_BACKUP:  fleetv1.CommandKind_COMMAND_KIND_BACKUP,
	fleetv1.MaintenanceTaskKind_MAINTENANCE_TASK_KIND_CUSTOM:  fleetv1.CommandKind_COMMAND_KIND_CUSTOM,
}

// windowSpec converts the API's spec, parsing the cron spec (UTC, five fields).
func windowSpec(p *fleetv1.MaintenanceSpec) maintenance.WindowSpec {
	w := maintenance.WindowSpec{Pool: p.GetPool(), Nodes: slices.Clone(p.GetNodes()), Cron: p.GetCron(),
		Duration: p.GetDuration().AsDuration(), MaxUnavailable: int(p.GetMaxUnavailable()), MinHealthy: int(p.GetMinHealthy()),
		DrainTimeout: p.GetDrainTimeout().AsDuration()}
	if p.GetStart() != nil {
		w.Start = p.GetStart().AsTime()
	}
	if p.GetEnd() != nil {
		w.End = p.GetEnd().AsTime()
	}
	for _, t := range p.GetTasks() {
		w.Tasks = append(w.Tasks, maintenance.Task{Kind: cmp.Or(taskKinds[t.GetKind()], strings.ToLower(t.GetKind().String())), Version: t.GetVersion(), Action: t.GetAction()})
	}
	if w.Cron != "" {
		s, err := cron.ParseStandard(w.Cron)
		w.Schedule, w.CronError = s, err
		if err != nil {
			w.Schedule = nil
		}
	}
	w.Defaults()
	return w
}

// Schedule validates and stores a window.
func (w *Windows) Schedule(spec *fleetv1.MaintenanceSpec, requestedBy string) (*fleetv1.Maintenance, error) {
	if spec == nil {
		return nil, check.Invalidf("spec: is missing")
	}
	if spec.GetPool() != "" && !check.ValidID(spec.GetPool()) {
		return nil, check.Invalidf("spec.pool: %q is not a valid pool name", check.Truncate(spec.GetPool()))
	}
	for i, t := range spec.GetTasks() {
		if t.GetVersion() != "" {
			if err := command.ValidVersion(t.GetVersion()); err != nil {
				return nil, check.Invalidf("spec.tasks[%d].version: %v", i, err)
			}
		}
		if t.GetAction() != "" {
			if err := command.ValidActionName(t.GetAction()); err != nil {
				return nil, check.Invalidf("spec.tasks[%d].action: %v", i, err)
			}
		}
	}
	if strings.HasPrefix(strings.TrimSpace(spec.GetCron()), "CRON_TZ=") || strings.HasPrefix(strings.TrimSpace(spec.GetCron()), "TZ=") {
		return nil, check.Invalidf("spec.cron: %q: the spec is read in UTC; give it without a time zone", check.Truncate(spec.GetCron()))
	}
	for _, d := range []*durationpb.Duration{spec.GetDuration(), spec.GetDrainTimeout()} {
		if d != nil && !d.IsValid() {
			return nil, check.Invalidf("spec: duration %v is not valid", d)
		}
	}
	if len(spec.GetReason()) > MaxReasonLen {
		return nil, check.Invalidf("spec.reason: %d bytes, at most %d", len(spec.GetReason()), MaxReasonLen)
	}
	s := windowSpec(spec)
	members := w.reg.List(&fleetv1.ListNodesRequest{Pool: spec.GetPool()})
	var ids []string
	for _, n := range members {
		ids = append(ids, n.GetId())
	}
	now := w.now()
	if err := s.Validate(ids, now); err != nil {
		return nil, fmt.Errorf("%w: %v", check.ErrInvalidArgument, err)
	}
	spec = proto.Clone(spec).(*fleetv1.MaintenanceSpec)
	spec.MaxUnavailable, spec.MinHealthy, spec.DrainTimeout = uint32(s.MaxUnavailable), uint32(s.MinHealthy), durationpb.New(s.DrainTimeout)
	key := commands.NewKey(now)
	m := &fleetv1.Maintenance{Id: hex.EncodeToString(key), Spec: spec, State: fleetv1.MaintenanceState_MAINTENANCE_STATE_SCHEDULED,
		Phase: "scheduled", Created: timestamppb.New(now), Updated: timestamppb.New(now), RequestedBy: requestedBy}
	opens, closes, _ := s.Opening(now)
	m.Opens = timestamppb.New(opens)
	if !closes.IsZero() {
		m.Closes = timestamppb.New(closes)
	}
	run := &windowRun{key: key, m: m, spec: s}
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.persist(run); err != nil {
		return nil, err
	}
	w.runs[m.GetId()] = run
	w.log.Info("maintenance window scheduled", "id", m.GetId(), "pool", s.Pool, "opens", opens, "cron", s.Cron)
	return proto.Clone(m).(*fleetv1.Maintenance), nil
}

// persist writes a window.
func (w *Windows) persist(run *windowRun) error {
	raw, err := proto.Marshal(run.m)
	if err != nil {
		return err
	}
	if err := w.store.Update(func(tx *store.Tx) error { return tx.Bucket(store.Maintenance).Put(run.key, raw) }); err != nil {
		return fmt.Errorf("store maintenance window %s: %w", run.m.GetId(), err)
	}
	return nil
}

// Reconcile is the maintenance-window part of the maintenance step.
func (w *Windows) Reconcile(now time.Time) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	var errs []error
	for _, run := range w.runs {
		if run.m.GetFinished() != nil {
			continue
		}
		before := proto.Clone(run.m)
		w.advance(run, now)
		if proto.Equal(before, run.m) {
			continue
		}
		run.m.Updated = timestamppb.New(now)
		w.router.SetOverrides(windowOwner(run.m), windowOverrides(run.m))
		if err := w.persist(run); err != nil {
			errs = append(errs, err)
		}
		w.publishLocked(run)
	}
	return errors.Join(errs...)
}

// advance moves one window on.
func (w *Windows) advance(run *windowRun, now time.Time) {
	m := run.m
	if m.GetState() == fleetv1.MaintenanceState_MAINTENANCE_STATE_SCHEDULED {
		if now.Before(m.GetOpens().AsTime()) {
			return
		}
		if busy, why := w.Deploying(m.GetSpec().GetPool(), ""); busy {
			m.Phase = "waiting: " + why
			return
		}
		w.open(run, now)
	}
	members := w.reg.List(&fleetv1.ListNodesRequest{Pool: m.GetSpec().GetPool()})
	state := map[string]*fleetv1.Node{}
	for _, n := range members {
		state[n.GetId()] = n
	}
	for _, n := range m.GetNodes() {
		w.advanceNode(run, n, state[n.GetNodeId()], now)
	}
	closed := m.GetCloses() != nil && !now.Before(m.GetCloses().AsTime())
	if m.GetState() == fleetv1.MaintenanceState_MAINTENANCE_STATE_RUNNING && !closed {
		w.take(run, members, now)
	}
	if closed {
		for _, n := range m.GetNodes() {
			if n.GetPhase() == phasePending {
				setWindowPhase(n, phaseSkipped, "the window closed before its turn", now)
			}
		}
	}
	inFlight := slices.ContainsFunc(m.GetNodes(), func(n *fleetv1.MaintenanceNode) bool { return windowInFlight(n.GetPhase()) })
	pending := slices.ContainsFunc(m.GetNodes(), func(n *fleetv1.MaintenanceNode) bool { return n.GetPhase() == phasePending })
	stopped := m.GetState() == fleetv1.MaintenanceState_MAINTENANCE_STATE_FAILED || m.GetState() == fleetv1.MaintenanceState_MAINTENANCE_STATE_CANCELLED
	if !inFlight && (!pending || stopped) {
		w.closeOpening(run, now)
	}
}

// open starts an opening: every covered node is pending again.
func (w *Windows) open(run *windowRun, now time.Time) {
	m := run.m
	m.State, m.Phase, m.Runs = fleetv1.MaintenanceState_MAINTENANCE_STATE_RUNNING, "running", m.GetRuns()+1
	m.Opens = timestamppb.New(now)
	m.Nodes = nil
	for _, n := range w.reg.List(&fleetv1.ListNodesRequest{Pool: m.GetSpec().GetPool()}) {
		if len(run.spec.Nodes) == 0 || slices.Contains(run.spec.Nodes, n.GetId()) {
			m.Nodes = append(m.Nodes, &fleetv1.MaintenanceNode{NodeId: n.GetId(), Phase: phasePending, Updated: timestamppb.New(now)})
		}
	}
	w.log.Info("maintenance window open", "id", m.GetId(), "pool", m.GetSpec().GetPool(), "nodes", len(m.GetNodes()))
}

// closeOpening ends an opening: a one-off window finishes, a recurring one waits for the next.
func (w *Windows) closeOpening(run *windowRun, now time.Time) {
	m := run.m
	var done, failed, skipped int
	for _, n := range m.GetNodes() {
		switch n.GetPhase() {
		case phaseDone:
			done++
		case phaseFailed:
			failed++
		case phaseSkipped:
			skipped++
		}
	}
	for _, n := range m.GetNodes() {
		if n.GetPhase() == phasePending {
			setWindowPhase(n, phaseSkipped, "not taken: the window "+strings.ToLower(strings.TrimPrefix(m.GetState().String(), "MAINTENANCE_STATE_")), now)
			skipped++
		}
	}
	summary := fmt.Sprintf("opening %d: %d nodes done, %d failed, %d skipped", m.GetRuns(), done, failed, skipped)
	switch m.GetState() {
	case fleetv1.MaintenanceState_MAINTENANCE_STATE_CANCELLED:
		m.Phase, m.Finished = "cancelled", timestamppb.New(now)
		return
	case fleetv1.MaintenanceState_MAINTENANCE_STATE_FAILED:
		m.Reason = cmp.Or(m.GetReason(), summary)
	default:
		m.Reason = summary
	}
	if run.spec.Cron != "" {
		if opens, closes, ok := run.spec.Opening(now.Add(time.Second)); ok {
			m.State, m.Phase = fleetv1.MaintenanceState_MAINTENANCE_STATE_SCHEDULED, "scheduled"
			m.Opens, m.Closes = timestamppb.New(opens), timestamppb.New(closes)
			return
		}
	}
	if m.GetState() == fleetv1.MaintenanceState_MAINTENANCE_STATE_RUNNING {
		m.State = fleetv1.MaintenanceState_MAINTENANCE_STATE_SUCCEEDED
		if skipped > 0 {
			m.State = fleetv1.MaintenanceState_MAINTENANCE_STATE_FAILED
		}
	}
	m.Phase, m.Finished = "done", timestamppb.New(now)
	w.log.Info("maintenance window finished", "id", m.GetId(), "state", m.GetState(), "summary", summary)
}

// take starts as many pending nodes as the pool's limits allow.
func (w *Windows) take(run *windowRun, members []*fleetv1.Node, now time.Time) {
	m := run.m
	held := map[string]bool{}
	for _, n := range m.GetNodes() {
		if windowInFlight(n.GetPhase()) {
			held[n.GetNodeId()] = true
		}
	}
	unavailable, ready := 0, 0
	for _, n := range members {
		if n.GetState() == fleetv1.NodeState_NODE_STATE_READY && !held[n.GetId()] {
			ready++
		} else {
			unavailable++
		}
	}
	var pending []*fleetv1.MaintenanceNode
	for _, n := range m.GetNodes() {
		if n.GetPhase() == phasePending {
			pending = append(pending, n)
		}
	}
	for _, n := range pending[:maintenance.MayTake(len(pending), unavailable, ready, run.spec.MaxUnavailable, run.spec.MinHealthy)] {
		setWindowPhase(n, phaseHolding, "out of routing; clients move off it before the drain", now)
	}
}

// advanceNode moves one node along drain → tasks → undrain as its commands finish.
func (w *Windows) advanceNode(run *windowRun, n *fleetv1.MaintenanceNode, node *fleetv1.Node, now time.Time) {
	m := run.m
	by := "maintenance " + m.GetId()
	switch n.GetPhase() {
	case phaseHolding:
		if now.Sub(n.GetUpdated().AsTime()) < w.drainGrace {
			return
		}
		timeout := run.spec.DrainTimeout
		rec, err := w.cmds.Create(n.GetNodeId(), fleetv1.CommandKind_COMMAND_KIND_DRAIN, map[string]string{command.ParamTimeout: timeout.String()},
			commands.DefaultTimeout+timeout, by, "maintenance window")
		if err == nil {
			err = w.reg.SetDrain(n.GetNodeId(), true, false, "drain requested by "+by)
		}
		if err != nil {
			w.failNode(run, n, "drain: "+err.Error(), now)
			return
		}
		n.CommandId = rec.GetCommand().GetId()
		setWindowPhase(n, phaseDraining, "draining", now)
	case phaseDraining, phaseTasks, phaseUndraining:
		rec, err := w.cmds.Get(n.GetCommandId())
		if err != nil {
			w.failNode(run, n, err.Error(), now)
			return
		}
		if !commands.Terminal(rec.GetState()) {
			return
		}
		ok := rec.GetState() == fleetv1.CommandState_COMMAND_STATE_SUCCEEDED
		switch n.GetPhase() {
		case phaseDraining:
			if !ok {
				w.failNode(run, n, "drain "+stateWord(rec.GetState())+": "+rec.GetDetail(), now)
				return
			}
			if m.GetState() == fleetv1.MaintenanceState_MAINTENANCE_STATE_CANCELLED {
				return // the undrain sent at cancel time follows
			}
			n.Task = 0
			w.runTask(run, n, now)
		case phaseTasks:
			n.Results = append(n.Results, &fleetv1.MaintenanceTaskResult{Kind: m.GetSpec().GetTasks()[n.GetTask()].GetKind(),
				CommandId: rec.GetCommand().GetId(), State: rec.GetState(), Detail: rec.GetDetail(), Fields: rec.GetFields()})
			if !ok {
				w.failNode(run, n, fmt.Sprintf("task %d (%s) %s: %s", n.GetTask(), taskKinds[m.GetSpec().GetTasks()[n.GetTask()].GetKind()], stateWord(rec.GetState()), rec.GetDetail()), now)
				return
			}
			n.Task++
			if int(n.GetTask()) < len(m.GetSpec().GetTasks()) && m.GetState() != fleetv1.MaintenanceState_MAINTENANCE_STATE_CANCELLED {
				w.runTask(run, n, now)
				return
			}
			w.undrain(run, n, "tasks done; undraining", now)
		case phaseUndraining:
			if !ok {
				w.failNode(run, n, "undrain "+stateWord(rec.GetState())+": "+rec.GetDetail(), now)
				return
			}
			if node.GetState() != fleetv1.NodeState_NODE_STATE_READY {
				n.Detail = "undrained; waiting for the node to report ready (" + fleet.StateName(node.GetState()) + ")"
				return
			}
			final := phaseDone
			if m.GetState() == fleetv1.MaintenanceState_MAINTENANCE_STATE_CANCELLED {
				final = phaseCancelled
			}
			setWindowPhase(n, final, "healthy and ready", now)
		}
	}
}

// runTask sends the node's current task.
func (w *Windows) runTask(run *windowRun, n *fleetv1.MaintenanceNode, now time.Time) {
	t := run.m.GetSpec().GetTasks()[n.GetTask()]
	var params map[string]string
	switch t.GetKind() {
	case fleetv1.MaintenanceTaskKind_MAINTENANCE_TASK_KIND_DEPLOY:
		params = map[string]string{command.ParamVersion: t.GetVersion()}
	case fleetv1.MaintenanceTaskKind_MAINTENANCE_TASK_KIND_CUSTOM:
		params = map[string]string{command.ParamAction: t.GetAction()}
	}
	rec, err := w.cmds.Create(n.GetNodeId(), taskCommands[t.GetKind()], params, commands.DefaultTimeout, "maintenance "+run.m.GetId(), "maintenance task "+taskKinds[t.GetKind()])
	if err != nil {
		w.failNode(run, n, "task: "+err.Error(), now)
		return
	}
	n.CommandId = rec.GetCommand().GetId()
	setWindowPhase(n, phaseTasks, fmt.Sprintf("task %d of %d: %s", n.GetTask()+1, len(run.m.GetSpec().GetTasks()), taskKinds[t.GetKind()]), now)
}

// undrain queues a node's undrain.
func (w *Windows) undrain(run *windowRun, n *fleetv1.MaintenanceNode, detail string, now time.Time) {
	rec, err := w.cmds.Create(n.GetNodeId(), fleetv1.CommandKind_COMMAND_KIND_UNDRAIN, nil, commands.DefaultTimeout, "maintenance "+run.m.GetId(), detail)
	if err != nil {
		w.failNode(run, n, "undrain: "+err.Error(), now)
		return
	}
	n.CommandId = rec.GetCommand().GetId()
	setWindowPhase(n, phaseUndraining, detail, now)
}

// failNode marks a node failed (left drained) and stops the window taking nodes.
func (w *Windows) failNode(run *windowRun, n *fleetv1.MaintenanceNode, why string, now time.Time) {
	setWindowPhase(n, phaseFailed, why+"; left drained", now)
	w.log.Warn("maintenance node failed", "id", run.m.GetId(), "node", n.GetNodeId(), "why", why)
	switch run.m.GetState() {
	case fleetv1.MaintenanceState_MAINTENANCE_STATE_RUNNING, fleetv1.MaintenanceState_MAINTENANCE_STATE_PAUSED:
		run.m.State = fleetv1.MaintenanceState_MAINTENANCE_STATE_FAILED
		run.m.Reason = fmt.Sprintf("node %s failed: %s; the window took no further node", n.GetNodeId(), why)
	}
}

func setWindowPhase(n *fleetv1.MaintenanceNode, phase, detail string, now time.Time) {
	n.Phase, n.Detail, n.Updated = phase, detail, timestamppb.New(now)
}

// windowInFlight reports whether a node in phase is out of routing because of the window.
func windowInFlight(p string) bool {
	switch p {
	case phaseHolding, phaseDraining, phaseTasks, phaseUndraining:
		return true
	}
	return false
}

// windowOverrides holds the window's nodes in progress out of routing.
func windowOverrides(m *fleetv1.Maintenance) map[string]router.RouteOverride {
	out := map[string]router.RouteOverride{}
	if m.GetFinished() != nil {
		return out
	}
	for _, n := range m.GetNodes() {
		if windowInFlight(n.GetPhase()) {
			out[n.GetNodeId()] = router.RouteOverride{HoldOut: "held out by maintenance " + m.GetId()[len(m.GetId())-8:] + " (" + n.GetPhase() + ")"}
		}
	}
	return out
}

// Busy reports whether an open window covers pool (and node, when given).
func (w *Windows) Busy(pool, node string) (bool, string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, r := range w.runs {
		m := r.m
		if m.GetFinished() != nil || m.GetSpec().GetPool() != pool || m.GetState() == fleetv1.MaintenanceState_MAINTENANCE_STATE_SCHEDULED {
			continue
		}
		if node == "" {
			return true, fmt.Sprintf("maintenance window %s is %s", m.GetId(), m.GetPhase())
		}
		for _, n := range m.GetNodes() {
			if n.GetNodeId() == node && windowInFlight(n.GetPhase()) {
				return true, fmt.Sprintf("maintenance window %s: node %s is %s", m.GetId(), node, n.GetPhase())
			}
		}
	}
	return false, ""
}
