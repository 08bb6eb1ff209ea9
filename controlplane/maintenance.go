package controlplane

import (
	"context"
	"errors"
	"time"
)

// reconcileMaintenance is the maintenance step of the reconcile loop: deployments, then
// maintenance windows.
func (s *Server) reconcileMaintenance(ctx context.Context, now time.Time) error {
	return errors.Join(s.deployer.reconcile(ctx, now), s.windows.reconcile(now))
}

// maintenanceBusy reports whether a deployment or an open maintenance window covers pool (and
// node, when given), with a reason naming it. Self-healing and scaling ask it before acting,
// so they never fight a rollout or a window.
func (s *Server) maintenanceBusy(pool, node string) (bool, string) {
	if busy, why := s.deployer.busy(pool, node); busy {
		return true, why
	}
	return s.windows.busy(pool, node)
}
