package maintenance

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dspyfleet/dspyfleet/controlplane/check"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// change applies f to a window that has not finished, then stores, routes and publishes it;
// when etag is set and is not the window's, nothing changes and the error is a
// *check.ConflictError.
func (w *Windows) change(id, etag string, f func(r *windowRun) error) (*fleetv1.Maintenance, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	r, err := w.lookupLocked(id)
	if err != nil {
		return nil, err
	}
	if err := check.IfEtag(etag, r.m, "maintenance window "+id, fmt.Sprintf("get it again (fleetctl maint get %s), check the change still makes sense and send its new etag (--etag)", id)); err != nil {
		return nil, err
	}
	if r.m.GetFinished() != nil {
		return nil, fmt.Errorf("%w: maintenance window %s already ended (%s)", check.ErrFailedPrecondition, id, windowStateName(r.m.GetState()))
	}
	if err := f(r); err != nil {
		return nil, err
	}
	r.m.Updated = timestamppb.New(w.now())
	if err := w.persist(r); err != nil {
		return nil, err
	}
	w.router.SetOverrides(windowOwner(r.m), windowOverrides(r.m))
	w.publishLocked(r)
	return proto.Clone(r.m).(*fleetv1.Maintenance), nil
}

// Pause stops the window taking nodes.
func (w *Windows) Pause(id, etag, reason, by string) (*fleetv1.Maintenance, error) {
	return w.change(id, etag, func(r *windowRun) error {
		if r.m.GetState() != fleetv1.MaintenanceState_MAINTENANCE_STATE_RUNNING {
			return fmt.Errorf("%w: maintenance window %s is %s, not running", check.ErrFailedPrecondition, id, windowStateName(r.m.GetState()))
		}
		r.m.State, r.m.Phase, r.m.Reason = fleetv1.MaintenanceState_MAINTENANCE_STATE_PAUSED, "paused", "paused by "+by+prefixed(": ", reason)
		return nil
	})
}

// Resume continues a paused window.
func (w *Windows) Resume(id, etag, by string) (*fleetv1.Maintenance, error) {
	return w.change(id, etag, func(r *windowRun) error {
		if r.m.GetState() != fleetv1.MaintenanceState_MAINTENANCE_STATE_PAUSED {
			return fmt.Errorf("%w: maintenance window %s is %s, not paused", check.ErrFailedPrecondition, id, windowStateName(r.m.GetState()))
		}
		r.m.State, r.m.Phase, r.m.Reason = fleetv1.MaintenanceState_MAINTENANCE_STATE_RUNNING, "running", "resumed by "+by
		return nil
	})
}

// Cancel ends the window: nodes not yet drained go back to routing at once, drained ones are
// undrained once their current command ends.
func (w *Windows) Cancel(id, etag, reason, by string) (*fleetv1.Maintenance, error) {
	return w.change(id, etag, func(r *windowRun) error {
		m := r.m
		now := w.now()
		why := "cancelled by " + by + prefixed(": ", reason)
		wasScheduled := m.GetState() == fleetv1.MaintenanceState_MAINTENANCE_STATE_SCHEDULED
		m.State, m.Reason, m.Phase = fleetv1.MaintenanceState_MAINTENANCE_STATE_CANCELLED, why, "cancelling"
		if wasScheduled {
			m.Phase, m.Finished = "cancelled", timestamppb.New(now)
			return nil
		}
		for _, n := range m.GetNodes() {
			switch n.GetPhase() {
			case phaseHolding:
				setWindowPhase(n, phaseCancelled, "back in routing before its drain", now)
			case phaseDraining, phaseTasks:
				w.undrain(r, n, "undraining: "+why, now)
			}
		}
		w.log.Info("maintenance window cancelled", "id", id, "by", by)
		return nil
	})
}

// windowStateName is a state's short lower-case name.
func windowStateName(s fleetv1.MaintenanceState) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "MAINTENANCE_STATE_"))
}
