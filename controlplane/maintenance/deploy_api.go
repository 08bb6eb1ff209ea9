package maintenance

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dspyfleet/dspyfleet/controlplane/check"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// change applies f to a running deployment under the lock, then stores, publishes and routes
// the result; when etag is set and is not the deployment's, nothing changes and the error is a
// *check.ConflictError.
func (dp *Deployer) change(id, etag string, f func(run *deployRun) error) (*fleetv1.Deployment, error) {
	dp.mu.Lock()
	defer dp.mu.Unlock()
	run, err := dp.lookupLocked(id)
	if err != nil {
		return nil, err
	}
	if err := check.IfEtag(etag, run.d, "deployment "+id, fmt.Sprintf("get it again (fleetctl deploy status %s), check the change still makes sense and send its new etag (--etag)", id)); err != nil {
		return nil, err
	}
	if !Active(run.d) {
		return nil, fmt.Errorf("%w: deployment %s already ended (%s)", check.ErrFailedPrecondition, id, deploymentStateName(run.d.GetState()))
	}
	if err := f(run); err != nil {
		return nil, err
	}
	run.d.Updated = timestamppb.New(dp.now())
	if err := dp.persist(run); err != nil {
		return nil, err
	}
	dp.router.SetOverrides(id, dp.overrides(run))
	dp.publishLocked(run)
	return proto.Clone(run.d).(*fleetv1.Deployment), nil
}

// Pause stops a deployment from starting nodes; nodes in progress finish.
func (dp *Deployer) Pause(id, etag, reason, by string) (*fleetv1.Deployment, error) {
	return dp.change(id, etag, func(run *deployRun) error {
		if run.d.GetState() != fleetv1.DeploymentState_DEPLOYMENT_STATE_RUNNING {
			return fmt.Errorf("%w: deployment %s is %s, not running", check.ErrFailedPrecondition, id, deploymentStateName(run.d.GetState()))
		}
		run.d.State = fleetv1.DeploymentState_DEPLOYMENT_STATE_PAUSED
		run.d.Reason = "paused by " + by + prefixed(": ", reason)
		return nil
	})
}

// Resume continues a paused deployment; a canary step's window starts again.
func (dp *Deployer) Resume(id, etag, by string) (*fleetv1.Deployment, error) {
	return dp.change(id, etag, func(run *deployRun) error {
		if run.d.GetState() != fleetv1.DeploymentState_DEPLOYMENT_STATE_PAUSED {
			return fmt.Errorf("%w: deployment %s is %s, not paused", check.ErrFailedPrecondition, id, deploymentStateName(run.d.GetState()))
		}
		run.d.State = fleetv1.DeploymentState_DEPLOYMENT_STATE_RUNNING
		run.d.Reason = "resumed by " + by
		if run.d.GetPhase() == depAnalysis {
			run.d.PhaseSince = timestamppb.New(dp.now())
			run.resetSample()
		}
		return nil
	})
}

// Abort stops a deployment and undoes its routing changes: a canary is rolled back, a
// blue-green switch is switched back, nodes drained for a rolling deploy are undrained.
func (dp *Deployer) Abort(id, etag, reason, by string) (*fleetv1.Deployment, error) {
	return dp.change(id, etag, func(run *deployRun) error {
		d := run.d
		now := dp.now()
		why := "aborted by " + by + prefixed(": ", reason)
		switch d.GetPhase() {
		case depCanary, depAnalysis:
			for _, n := range d.GetNodes() {
				if n.GetPhase() == phasePending {
					setPhase(n, phaseAborted, "not started", now)
				}
			}
			dp.rollBack(run, fleetv1.DeploymentState_DEPLOYMENT_STATE_ABORTED, why, now)
		case depSwitched:
			d.State, d.Reason = fleetv1.DeploymentState_DEPLOYMENT_STATE_ROLLED_BACK, why+"; switched back to the old set"
			d.Phase, d.PhaseSince = depSwitchBack, timestamppb.New(now)
			for _, n := range d.GetNodes() {
				switch n.GetRole() {
				case roleBlue:
					setPhase(n, phaseLive, "serving again", now)
				case roleGreen:
					setPhase(n, phaseKept, "out of routing; drained after the drain grace", now)
				}
			}
		case depRetiring, depRollingBack:
			return fmt.Errorf("%w: deployment %s is %s; there is nothing left to undo", check.ErrFailedPrecondition, id, d.GetPhase())
		default: // rolling, promoting, preparing
			d.State, d.Reason = fleetv1.DeploymentState_DEPLOYMENT_STATE_ABORTED, why
			d.Phase = depAborting
			for _, n := range d.GetNodes() {
				switch n.GetPhase() {
				case phasePending:
					setPhase(n, phaseAborted, "not started", now)
				case phaseHolding:
					setPhase(n, phaseAborted, "back in routing before its drain", now)
				case phaseDraining, phaseDeploying:
					switch {
					case n.GetWasDrained():
						setPhase(n, phaseAborted, "left drained, as it was before the deployment", now)
					case n.GetRole() != roleGreen:
						dp.sendUndrain(run, n, "undraining: "+why, now)
					}
				}
			}
		}
		dp.log.Info("deployment aborted", "id", id, "by", by, "reason", reason)
		return nil
	})
}

// deploymentStateName is a state's short lower-case name.
func deploymentStateName(s fleetv1.DeploymentState) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "DEPLOYMENT_STATE_"))
}

// prefixed returns p+s, or "" when s is empty.
func prefixed(p, s string) string {
	if s == "" {
		return ""
	}
	return p + s
}
