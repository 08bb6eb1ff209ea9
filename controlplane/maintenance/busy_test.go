package maintenance

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/types/known/timestamppb"

	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

func TestBusy(t *testing.T) {
	dep := &fleetv1.Deployment{Id: "d1", Spec: &fleetv1.DeploymentSpec{Pool: "web", Version: "2.0"}, Phase: depRolling,
		State: fleetv1.DeploymentState_DEPLOYMENT_STATE_RUNNING,
		Nodes: []*fleetv1.DeploymentNode{{NodeId: "web-1", Phase: phaseDeploying}, {NodeId: "web-2", Phase: phasePending}}}
	done := &fleetv1.Deployment{Id: "d0", Spec: &fleetv1.DeploymentSpec{Pool: "gpu"}, Finished: timestamppb.Now(),
		Nodes: []*fleetv1.DeploymentNode{{NodeId: "gpu-1", Phase: phaseDeploying}}}
	win := &fleetv1.Maintenance{Id: "m1", Spec: &fleetv1.MaintenanceSpec{Pool: "batch"}, State: fleetv1.MaintenanceState_MAINTENANCE_STATE_RUNNING,
		Phase: "running", Nodes: []*fleetv1.MaintenanceNode{{NodeId: "batch-1", Phase: phaseTasks}}}
	later := &fleetv1.Maintenance{Id: "m2", Spec: &fleetv1.MaintenanceSpec{Pool: "cpu"}, State: fleetv1.MaintenanceState_MAINTENANCE_STATE_SCHEDULED}
	dp, w := &Deployer{}, &Windows{}
	dp.init("deployment", "")
	w.init("maintenance window", "")
	dp.runs["d1"], dp.runs["d0"] = &deployRun{d: dep}, &deployRun{d: done}
	w.runs["m1"], w.runs["m2"] = &windowRun{m: win}, &windowRun{m: later}
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
		busy, why := Busy(dp, w, tt.pool, tt.node)
		if busy != tt.busy || !strings.Contains(why, tt.why) {
			t.Errorf("Busy(%q, %q) = %v, %q; want %v, %q", tt.pool, tt.node, busy, why, tt.busy, tt.why)
		}
	}
}
