package maintenance

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dspyfleet/dspyfleet/controlplane/commands"
	"github.com/dspyfleet/dspyfleet/controlplane/fleet"
	"github.com/dspyfleet/dspyfleet/controlplane/router"
	"github.com/dspyfleet/dspyfleet/internal/wire"
	"github.com/dspyfleet/dspyfleet/pkg/command"
	"github.com/dspyfleet/dspyfleet/pkg/maintenance"
	"github.com/dspyfleet/dspyfleet/pkg/reqstats"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// Reconcile is the deployment part of the maintenance step: it advances every deployment in
// progress by what has happened since the last tick, writes the changed ones and applies their
// routing overrides.
func (dp *Deployer) Reconcile(_ context.Context, now time.Time) error {
	dp.mu.Lock()
	defer dp.mu.Unlock()
	var errs []error
	for _, run := range dp.runs {
		if !Active(run.d) {
			continue
		}
		before := proto.Clone(run.d)
		dp.advance(run, now)
		if proto.Equal(before, run.d) {
			continue
		}
		run.d.Updated = timestamppb.New(now)
		if !Active(run.d) {
			dp.router.SetOverrides(run.d.GetId(), nil)
			dp.log.Info("deployment finished", "id", run.d.GetId(), "state", run.d.GetState(), "reason", run.d.GetReason())
		} else {
			dp.router.SetOverrides(run.d.GetId(), dp.overrides(run))
		}
		if err := dp.persist(run); err != nil {
			errs = append(errs, err)
		}
		dp.publishLocked(run)
	}
	return errors.Join(errs...)
}

// advance moves one deployment on.
func (dp *Deployer) advance(run *deployRun, now time.Time) {
	d := run.d
	members := dp.reg.List(&fleetv1.ListNodesRequest{Pool: d.GetSpec().GetPool()})
	state := map[string]*fleetv1.Node{}
	for _, m := range members {
		state[m.GetId()] = m
	}
	// Nodes in progress move on whatever the deployment's state.
	for _, n := range d.GetNodes() {
		dp.advanceNode(run, n, state[n.GetNodeId()], now)
	}
	running := d.GetState() == fleetv1.DeploymentState_DEPLOYMENT_STATE_RUNNING
	switch d.GetPhase() {
	case depRolling:
		if running {
			dp.startNodes(run, roleRolling, state, now)
		}
		dp.finishWhen(run, roleRolling, phaseDone, now)
	case depCanary:
		if running {
			dp.startNodes(run, roleCanary, state, now)
		}
		if running && allIn(d, roleCanary, phaseDone) {
			d.Phase, d.Step, d.PhaseSince = depAnalysis, 1, timestamppb.New(now)
			run.resetSample()
			return
		}
		dp.finishWhen(run, roleCanary, phaseDone, now)
	case depAnalysis:
		if running {
			dp.analyse(run, members, now)
		}
	case depPromoting:
		if running {
			dp.startNodes(run, roleBaseline, state, now)
		}
		dp.finishWhen(run, roleBaseline, phaseDone, now)
	case depRollingBack:
		if !anyIn(d, roleCanary, phaseHolding, phaseDraining, phaseDeploying, phaseUndraining) {
			dp.finish(run, now)
		}
	case depPreparing:
		if running {
			dp.startNodes(run, roleGreen, state, now)
		}
		if running && allIn(d, roleGreen, phaseReady) {
			dp.switchOver(run, now)
			return
		}
		dp.finishWhen(run, roleGreen, phaseReady, now)
	case depSwitched:
		if running && now.Sub(d.GetPhaseSince().AsTime()) >= run.spec.KeepOld {
			d.Phase = depRetiring
			dp.retire(run, roleBlue, now)
		}
	case depRetiring, depSwitchBack, depAborting:
		if d.GetPhase() == depRetiring {
			dp.retire(run, roleBlue, now)
		} else {
			dp.retire(run, roleGreen, now)
		}
		if !anyIn(d, "", phaseHolding, phaseDraining, phaseDeploying, phaseUndraining, phaseRetiring, phaseKept) {
			if d.GetState() == fleetv1.DeploymentState_DEPLOYMENT_STATE_RUNNING {
				d.State = fleetv1.DeploymentState_DEPLOYMENT_STATE_SUCCEEDED
				d.Reason = fmt.Sprintf("every node runs %s; the old set is drained", d.GetSpec().GetVersion())
			}
			dp.finish(run, now)
		}
	}
}

// finishWhen ends the deployment when it stopped (failed, aborted) and nothing is in progress,
// or when every node of role reached want.
func (dp *Deployer) finishWhen(run *deployRun, role, want string, now time.Time) {
	d := run.d
	if anyIn(d, "", phaseHolding, phaseDraining, phaseDeploying, phaseUndraining, phaseRetiring) {
		return
	}
	switch d.GetState() {
	case fleetv1.DeploymentState_DEPLOYMENT_STATE_FAILED, fleetv1.DeploymentState_DEPLOYMENT_STATE_ABORTED:
		dp.finish(run, now)
		return
	}
	if !allIn(d, role, want, phaseSkipped) || d.GetState() != fleetv1.DeploymentState_DEPLOYMENT_STATE_RUNNING {
		return
	}
	if d.GetPhase() == depCanary || d.GetPhase() == depPreparing {
		return // the next phase follows when the step is running
	}
	d.State = fleetv1.DeploymentState_DEPLOYMENT_STATE_SUCCEEDED
	d.Reason = fmt.Sprintf("every node runs %s", d.GetSpec().GetVersion())
	if skipped := countIn(d, phaseSkipped); skipped > 0 {
		d.State = fleetv1.DeploymentState_DEPLOYMENT_STATE_FAILED
		d.Reason = fmt.Sprintf("%d nodes were down or disconnected and were skipped; the others run %s", skipped, d.GetSpec().GetVersion())
	}
	dp.finish(run, now)
}

// finish ends a deployment.
func (dp *Deployer) finish(run *deployRun, now time.Time) {
	run.d.Finished = timestamppb.New(now)
	run.d.Phase = depDone
}

// startNodes takes the next pending nodes of role out of routing, as many as the batch size
// and the pool's maximum unavailable allow.
func (dp *Deployer) startNodes(run *deployRun, role string, state map[string]*fleetv1.Node, now time.Time) {
	d := run.d
	var pending []*fleetv1.DeploymentNode
	inProgress, unavailable := 0, 0
	for _, n := range d.GetNodes() {
		if n.GetRole() == role && n.GetPhase() == phasePending {
			pending = append(pending, n)
		}
		if inFlightPhase(n.GetPhase()) && n.GetPhase() != phaseKept && n.GetPhase() != phaseReady {
			inProgress++
		}
	}
	for id, m := range state {
		if m.GetState() != fleetv1.NodeState_NODE_STATE_READY || slices.ContainsFunc(d.GetNodes(), func(n *fleetv1.DeploymentNode) bool {
			return n.GetNodeId() == id && inFlightPhase(n.GetPhase())
		}) {
			unavailable++
		}
	}
	// A node already out of routing costs nothing to take; a node not connected cannot be
	// deployed and is skipped rather than waited for.
	var ready []*fleetv1.DeploymentNode
	for _, n := range pending {
		m := state[n.GetNodeId()]
		switch {
		case (m == nil || !fleet.Connected(m.GetState())) && (role == roleCanary || role == roleGreen):
			dp.failNode(run, n, "down or disconnected when its turn came", now)
		case m == nil || !fleet.Connected(m.GetState()):
			setPhase(n, phaseSkipped, "down or disconnected when its turn came; deploy it once it is back", now)
		case m.GetState() != fleetv1.NodeState_NODE_STATE_READY && role != roleGreen:
			n.PreviousVersion = dp.previousVersion(n.GetNodeId(), d.GetSpec().GetPreviousVersion())
			setPhase(n, phaseHolding, "already out of routing ("+fleet.StateName(m.GetState())+")", now)
		default:
			ready = append(ready, n)
		}
	}
	pending = ready
	batch, maxUnavailable := run.spec.BatchSize, run.spec.MaxUnavailable
	if role == roleGreen {
		// The idle set serves nothing: it may all go at once.
		batch, maxUnavailable, unavailable, inProgress = len(pending), len(pending), 0, 0
	}
	take := maintenance.Start(len(pending), inProgress, unavailable, batch, maxUnavailable)
	if take == 0 && len(pending) > 0 && inProgress == 0 {
		d.Reason = fmt.Sprintf("waiting: %d nodes of the pool are out of routing and max_unavailable is %d", unavailable, maxUnavailable)
	} else if strings.HasPrefix(d.GetReason(), "waiting: ") {
		d.Reason = ""
	}
	for _, n := range pending[:take] {
		n.PreviousVersion = dp.previousVersion(n.GetNodeId(), d.GetSpec().GetPreviousVersion())
		setPhase(n, phaseHolding, "out of routing; clients move off it before the drain", now)
	}
}

// previousVersion is the version the node's last successful deploy installed, else def.
func (dp *Deployer) previousVersion(node, def string) string {
	recs := dp.cmds.List(&fleetv1.ListCommandsRequest{NodeId: node, Kinds: []fleetv1.CommandKind{fleetv1.CommandKind_COMMAND_KIND_DEPLOY},
		States: []fleetv1.CommandState{fleetv1.CommandState_COMMAND_STATE_SUCCEEDED}, Limit: 1})
	if len(recs) == 1 {
		return recs[0].GetCommand().GetParams()[command.ParamVersion]
	}
	return def
}

// targetVersion is what a node is deployed with: the old version when a canary rolls back.
func targetVersion(d *fleetv1.Deployment, n *fleetv1.DeploymentNode) string {
	if d.GetPhase() == depRollingBack && n.GetRole() == roleCanary {
		return n.GetPreviousVersion()
	}
	return d.GetSpec().GetVersion()
}

// finalPhase is where a node's pipeline ends.
func finalPhase(d *fleetv1.Deployment, n *fleetv1.DeploymentNode) string {
	switch {
	case d.GetPhase() == depRollingBack && n.GetRole() == roleCanary:
		return phaseRolledBack
	case n.GetRole() == roleGreen:
		return phaseReady
	case d.GetState() == fleetv1.DeploymentState_DEPLOYMENT_STATE_ABORTED:
		return phaseAborted
	}
	return phaseDone
}

// advanceNode moves one node along drain → deploy → undrain as its commands finish.
func (dp *Deployer) advanceNode(run *deployRun, n *fleetv1.DeploymentNode, node *fleetv1.Node, now time.Time) {
	d := run.d
	id := n.GetNodeId()
	switch n.GetPhase() {
	case phaseHolding:
		if node.GetState() == fleetv1.NodeState_NODE_STATE_DRAINED {
			n.WasDrained = n.GetRole() != roleGreen
			dp.deployNode(run, n, now)
			return
		}
		if now.Sub(n.GetUpdated().AsTime()) < dp.drainGrace {
			return
		}
		timeout := run.spec.DrainTimeout
		rec, err := dp.cmds.Create(id, fleetv1.CommandKind_COMMAND_KIND_DRAIN, map[string]string{command.ParamTimeout: timeout.String()},
			commands.DefaultTimeout+timeout, "deployment "+d.GetId(), "deploying "+d.GetSpec().GetVersion())
		if err == nil {
			err = dp.reg.SetDrain(id, true, false, "drain requested by deployment "+d.GetId())
		}
		if err != nil {
			dp.failNode(run, n, "drain: "+err.Error(), now)
			return
		}
		n.CommandId = rec.GetCommand().GetId()
		setPhase(n, phaseDraining, "draining", now)
	case phaseDraining, phaseDeploying, phaseUndraining, phaseRetiring:
		rec, err := dp.cmds.Get(n.GetCommandId())
		if err != nil {
			dp.failNode(run, n, err.Error(), now)
			return
		}
		st := rec.GetState()
		if !commands.Terminal(st) {
			return
		}
		if st != fleetv1.CommandState_COMMAND_STATE_SUCCEEDED {
			dp.failNode(run, n, fmt.Sprintf("%s %s: %s", wire.CommandKind(rec.GetCommand().GetKind()), stateWord(st), rec.GetDetail()), now)
			return
		}
		switch n.GetPhase() {
		case phaseDraining:
			dp.deployNode(run, n, now)
		case phaseDeploying:
			if rec.GetCommand().GetParams()[command.ParamVersion] != targetVersion(d, n) {
				dp.deployNode(run, n, now) // a rollback began while it deployed
				return
			}
			if n.GetWasDrained() {
				setPhase(n, finalPhase(d, n), "deployed "+rec.GetCommand().GetParams()[command.ParamVersion]+"; left drained, as it was before", now)
				return
			}
			dp.sendUndrain(run, n, "deployed "+rec.GetCommand().GetParams()[command.ParamVersion]+"; undraining", now)
		case phaseUndraining:
			if node.GetState() != fleetv1.NodeState_NODE_STATE_READY {
				n.Detail = "undrained; waiting for the node to report ready (" + fleet.StateName(node.GetState()) + ")"
				return
			}
			setPhase(n, finalPhase(d, n), "healthy and ready", now)
		case phaseRetiring:
			setPhase(n, phaseRetired, "drained: out of routing until the next deployment", now)
		}
	}
}

// deployNode sends the deploy command of a drained node.
func (dp *Deployer) deployNode(run *deployRun, n *fleetv1.DeploymentNode, now time.Time) {
	d := run.d
	version := targetVersion(d, n)
	if version == "" {
		dp.failNode(run, n, "left drained: no previous version on record to roll back to; set spec.previous_version", now)
		return
	}
	rec, err := dp.cmds.Create(n.GetNodeId(), fleetv1.CommandKind_COMMAND_KIND_DEPLOY, map[string]string{command.ParamVersion: version},
		commands.DefaultTimeout, "deployment "+d.GetId(), "deploying "+version)
	if err != nil {
		dp.failNode(run, n, "deploy: "+err.Error(), now)
		return
	}
	n.CommandId = rec.GetCommand().GetId()
	setPhase(n, phaseDeploying, "deploying "+version, now)
}

// sendUndrain queues the undrain of a node.
func (dp *Deployer) sendUndrain(run *deployRun, n *fleetv1.DeploymentNode, detail string, now time.Time) {
	rec, err := dp.cmds.Create(n.GetNodeId(), fleetv1.CommandKind_COMMAND_KIND_UNDRAIN, nil, commands.DefaultTimeout, "deployment "+run.d.GetId(), detail)
	if err != nil {
		dp.failNode(run, n, "undrain: "+err.Error(), now)
		return
	}
	n.CommandId = rec.GetCommand().GetId()
	setPhase(n, phaseUndraining, detail, now)
}

// failNode marks a node failed; a failed node stops the deployment (nodes in progress finish).
func (dp *Deployer) failNode(run *deployRun, n *fleetv1.DeploymentNode, why string, now time.Time) {
	d := run.d
	setPhase(n, phaseFailed, why, now)
	dp.log.Warn("deployment node failed", "id", d.GetId(), "node", n.GetNodeId(), "why", why)
	if d.GetState() == fleetv1.DeploymentState_DEPLOYMENT_STATE_RUNNING || d.GetState() == fleetv1.DeploymentState_DEPLOYMENT_STATE_PAUSED {
		d.State = fleetv1.DeploymentState_DEPLOYMENT_STATE_FAILED
		d.Reason = fmt.Sprintf("node %s failed: %s; the rollout stopped there", n.GetNodeId(), why)
	}
}

// setPhase moves a node to phase.
func setPhase(n *fleetv1.DeploymentNode, phase, detail string, now time.Time) {
	n.Phase, n.Detail, n.Updated = phase, detail, timestamppb.New(now)
}

// allIn reports whether every node of role is in one of phases.
func allIn(d *fleetv1.Deployment, role string, phases ...string) bool {
	for _, n := range d.GetNodes() {
		if n.GetRole() == role && !slices.Contains(phases, n.GetPhase()) {
			return false
		}
	}
	return true
}

// countIn counts the nodes in phase.
func countIn(d *fleetv1.Deployment, phase string) int {
	c := 0
	for _, n := range d.GetNodes() {
		if n.GetPhase() == phase {
			c++
		}
	}
	return c
}

// anyIn reports whether a node of role ("" for any) is in one of phases.
func anyIn(d *fleetv1.Deployment, role string, phases ...string) bool {
	for _, n := range d.GetNodes() {
		if (role == "" || n.GetRole() == role) && slices.Contains(phases, n.GetPhase()) {
			return true
		}
	}
	return false
}

// stateWord names a command state in a sentence.
func stateWord(s fleetv1.CommandState) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "COMMAND_STATE_"))
}

// switchOver moves routing from the blue set to the green one in one update.
func (dp *Deployer) switchOver(run *deployRun, now time.Time) {
	d := run.d
	for _, n := range d.GetNodes() {
		switch n.GetRole() {
		case roleGreen:
			setPhase(n, phaseDone, "serving "+d.GetSpec().GetVersion(), now)
		case roleBlue:
			setPhase(n, phaseKept, "out of routing, undrained, for an instant switch back", now)
		}
	}
	d.Phase, d.PhaseSince = depSwitched, timestamppb.New(now)
}

// retire drains every node of role that is kept (out of routing) or ready, once it has been
// out of routing for the drain grace, so clients that picked it just before finish.
func (dp *Deployer) retire(run *deployRun, role string, now time.Time) {
	d := run.d
	for _, n := range d.GetNodes() {
		if n.GetRole() != role || (n.GetPhase() != phaseKept && n.GetPhase() != phaseReady) {
			continue
		}
		if n.GetPhase() == phaseKept && now.Sub(n.GetUpdated().AsTime()) < dp.drainGrace {
			continue
		}
		timeout := run.spec.DrainTimeout
		rec, err := dp.cmds.Create(n.GetNodeId(), fleetv1.CommandKind_COMMAND_KIND_DRAIN, map[string]string{command.ParamTimeout: timeout.String()},
			commands.DefaultTimeout+timeout, "deployment "+d.GetId(), "retiring the old set")
		if err == nil {
			err = dp.reg.SetDrain(n.GetNodeId(), true, false, "drain requested by deployment "+d.GetId())
		}
		if err != nil {
			dp.failNode(run, n, "drain: "+err.Error(), now)
			continue
		}
		n.CommandId = rec.GetCommand().GetId()
		setPhase(n, phaseRetiring, "draining", now)
	}
}

// analyse samples the canary and baseline nodes' reports and judges the step: a failure rolls
// back at once, within the window; a pass at the window's end moves to the next step.
func (dp *Deployer) analyse(run *deployRun, members []*fleetv1.Node, now time.Time) {
	d := run.d
	roles := map[string]string{}
	for _, n := range d.GetNodes() {
		if n.GetRole() == roleCanary && n.GetPhase() == phaseDone || n.GetRole() == roleBaseline && n.GetPhase() == phasePending {
			roles[n.GetNodeId()] = n.GetRole()
		}
	}
	for _, m := range members {
		role := roles[m.GetId()]
		if role == "" || m.GetReportsReceived() == run.seen[m.GetId()] {
			continue
		}
		first := !run.sampled
		run.seen[m.GetId()] = m.GetReportsReceived()
		if first {
			continue
		}
		w, err := wire.WindowFromApp(m.GetLastReport().GetApp(), now, now)
		if err != nil {
			continue
		}
		if role == roleCanary {
			run.canary, _ = reqstats.MergeWindows(1, run.canary, w)
		} else {
			run.baseline, _ = reqstats.MergeWindows(1, run.baseline, w)
		}
	}
	run.sampled = true
	canary, baseline := figures(run.canary), figures(run.baseline)
	v := run.spec.Judge(canary, baseline)
	ended := now.Sub(d.GetPhaseSince().AsTime()) >= run.spec.AnalysisWindow
	if !v.Failed && !ended {
		return
	}
	percent := 0.0
	if i := int(d.GetStep()) - 1; i < len(run.spec.CanaryPercent) {
		percent = run.spec.CanaryPercent[i]
	}
	a := &fleetv1.CanaryAnalysis{Step: d.GetStep(), Percent: percent, Start: d.GetPhaseSince(), End: timestamppb.New(now),
		CanaryRequests: canary.Requests, CanaryErrors: canary.Errors, CanaryP95Ms: ms(canary.P95),
		BaselineRequests: baseline.Requests, BaselineErrors: baseline.Errors, BaselineP95Ms: ms(baseline.P95),
		Passed: !v.Failed && v.Enough, Reason: v.Reason}
	d.Analyses = append(d.Analyses, a)
	switch {
	case v.Failed:
		dp.rollBack(run, fleetv1.DeploymentState_DEPLOYMENT_STATE_ROLLED_BACK, "canary step "+fmt.Sprint(d.GetStep())+" failed: "+v.Reason, now)
	case !v.Enough:
		a.Reason += "; holding the step for another window"
		d.PhaseSince = timestamppb.New(now)
		run.resetSample()
	case int(d.GetStep()) < len(run.spec.CanaryPercent):
		d.Step++
		d.PhaseSince = timestamppb.New(now)
		run.resetSample()
	default:
		d.Step++
		d.Phase, d.PhaseSince = depPromoting, timestamppb.New(now)
	}
}

// rollBack takes the canary nodes out of routing at once and deploys their previous version.
func (dp *Deployer) rollBack(run *deployRun, state fleetv1.DeploymentState, reason string, now time.Time) {
	d := run.d
	d.State, d.Reason = state, reason
	d.Phase, d.PhaseSince = depRollingBack, timestamppb.New(now)
	for _, n := range d.GetNodes() {
		if n.GetRole() == roleCanary && n.GetPhase() == phaseDone {
			// Out of routing now; the drain grace lets clients move off before the drain.
			setPhase(n, phaseHolding, "rolling back to "+commands.OrDefault(n.GetPreviousVersion(), "(unknown)"), now)
		}
	}
	dp.log.Warn("deployment rolling back", "id", d.GetId(), "reason", reason)
}

// resetSample starts a new analysis window.
func (run *deployRun) resetSample() {
	run.seen = map[string]uint64{}
	run.canary, run.baseline = reqstats.Window{}, reqstats.Window{}
	run.sampled = false
}

// figures summarises a sampled window.
func figures(w reqstats.Window) maintenance.Figures {
	f := maintenance.Figures{Requests: w.Requests, Errors: w.Errors}
	if w.Latency != nil {
		f.P95 = time.Duration(w.Latency.Quantile(0.95) * float64(time.Millisecond))
	}
	return f
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// overrides derives the run's routing overrides from its persisted state: nodes in progress
// are held out; during a canary step the canaries get the step's traffic share by weight.
func (dp *Deployer) overrides(run *deployRun) map[string]router.RouteOverride {
	d := run.d
	out := map[string]router.RouteOverride{}
	short := d.GetId()[len(d.GetId())-8:]
	for _, n := range d.GetNodes() {
		if inFlightPhase(n.GetPhase()) {
			out[n.GetNodeId()] = router.RouteOverride{HoldOut: "held out by deployment " + short + " (" + n.GetPhase() + ")"}
		}
	}
	if d.GetPhase() != depAnalysis || int(d.GetStep()) < 1 || int(d.GetStep()) > len(run.spec.CanaryPercent) {
		return out
	}
	percent := run.spec.CanaryPercent[d.GetStep()-1]
	var canaries []string
	baseline := 0.0
	for _, n := range d.GetNodes() {
		switch {
		case n.GetRole() == roleCanary && n.GetPhase() == phaseDone:
			canaries = append(canaries, n.GetNodeId())
		case n.GetRole() == roleBaseline:
			if node, err := dp.reg.Get(n.GetNodeId()); err == nil && node.GetState() == fleetv1.NodeState_NODE_STATE_READY {
				baseline += routingWeight(node.GetWeight())
			}
		}
	}
	if w := maintenance.CanaryWeight(percent, len(canaries), baseline); w > 0 {
		for _, id := range canaries {
			out[id] = router.RouteOverride{Weight: w}
		}
	}
	return out
}

// routingWeight is the weight routing gives a node configured with w: values ≤ 0 count as 1.
func routingWeight(w float64) float64 {
	if w <= 0 {
		return 1
	}
	return w
}
