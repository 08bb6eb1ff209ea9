package controlplane

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dspyfleet/dspyfleet/controlplane/maintenance"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

func TestMaintenanceBusy(t *testing.T) {
	dep := &fleetv1.Deployment{Id: "d1", Spec: &fleetv1.DeploymentSpec{Pool: "web", Version: "2.0"}, Phase: maintenance.DepRolling,
		State: fleetv1.DeploymentState_DEPLOYMENT_STATE_RUNNING,
		Nodes: []*fleetv1.DeploymentNode{{NodeId: "web-1", Phase: maintenance.PhaseDeploying}, {NodeId: "web-2", Phase: maintenance.PhasePending}}}
	done := &fleetv1.Deployment{Id: "d0", Spec: &fleetv1.DeploymentSpec{Pool: "gpu"}, Finished: timestamppb.Now(),
		Nodes: []*fleetv1.DeploymentNode{{NodeId: "gpu-1", Phase: maintenance.PhaseDeploying}}}
	win := &fleetv1.Maintenance{Id: "m1", Spec: &fleetv1.MaintenanceSpec{Pool: "batch"}, State: fleetv1.MaintenanceState_MAINTENANCE_STATE_RUNNING,
		Phase: "running", Nodes: []*fleetv1.MaintenanceNode{{NodeId: "batch-1", Phase: maintenance.PhaseTasks}}}
	later := &fleetv1.Maintenance{Id: "m2", Spec: &fleetv1.MaintenanceSpec{Pool: "cpu"}, State: fleetv1.MaintenanceState_MAINTENANCE_STATE_SCHEDULED}
	s := &Server{
		deployer: &maintenance.Deployer{Runs: map[string]*maintenance.DeployRun{"d1": {D: dep}, "d0": {D: done}}},
		windows:  &maintenance.Windows{Runs: map[string]*maintenance.WindowRun{"m1": {M: win}, "m2": {M: later}}},
	}
	tests := []struct {
		pool, node string
		busy       bool
		why        string
	}{
		{"web", "", true, "deployment d1"},
		{"web", "web-1", true, "node web-1 is deploying"},
		{"web", "web-2", false, ""},
		{"gpu", "", false, ""},
		{"batch", "batch-1", true, "maintenance window m1"},
		{"cpu", "", false, ""},
	}
	for _, tt := range tests {
		busy, why := s.maintenanceBusy(tt.pool, tt.node)
		if busy != tt.busy || !strings.Contains(why, tt.why) {
			t.Errorf("maintenanceBusy(%q, %q) = %v, %q; want %v, %q", tt.pool, tt.node, busy, why, tt.busy, tt.why)
		}
	}
}
