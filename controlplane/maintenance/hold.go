package maintenance

import (
	"slices"
	"strings"
	"time"

	"github.com/dspyfleet/dspyfleet/internal/wire"
	"github.com/dspyfleet/dspyfleet/pkg/maintenance"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// HoldFor is the command queue's Holder: whether a command for nodeID waits for a maintenance
// window of the node's pool (maintenance.HoldFor), with every window not finished or cancelled
// as the pool's policy. A node the registry does not know is never held.
func (w *Windows) HoldFor(nodeID string, kind fleetv1.CommandKind, params map[string]string, now time.Time) maintenance.Hold {
	n, err := w.reg.Get(nodeID)
	if err != nil {
		return maintenance.Hold{}
	}
	disruptive := maintenance.Disruptive(wire.CommandKind(kind), params, int(n.GetLastReport().GetServiceHealth().GetInstances()))
	if !disruptive {
		return maintenance.Hold{}
	}
	w.mu.Lock()
	var policy []maintenance.PolicyWindow
	for _, r := range w.runs {
		if r.m.GetFinished() == nil && r.m.GetState() != fleetv1.MaintenanceState_MAINTENANCE_STATE_CANCELLED && r.pool() == n.GetPool() {
			policy = append(policy, maintenance.PolicyWindow{ID: r.m.GetId(), Spec: r.spec})
		}
	}
	w.mu.Unlock()
	slices.SortFunc(policy, func(a, b maintenance.PolicyWindow) int { return strings.Compare(a.ID, b.ID) })
	return maintenance.HoldFor(n.GetPool(), nodeID, true, policy, now)
}
