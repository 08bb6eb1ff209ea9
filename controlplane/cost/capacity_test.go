package cost

import (
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// TestReportByCapacityType: host cost splits by the agents' capacity type, which wins over the
// purchase label and picks the spot price; an unpriced host is unknown.
func TestReportByCapacityType(t *testing.T) {
	start := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	ready := fleetv1.NodeState_NODE_STATE_READY
	nodes := []*fleetv1.Node{
		{Id: "od", Pool: "a", InstanceType: "m.large", State: ready, ConnectedSince: timestamppb.New(start), CapacityType: fleetv1.CapacityType_CAPACITY_TYPE_ON_DEMAND},
		{Id: "sp", Pool: "a", InstanceType: "m.large", State: ready, ConnectedSince: timestamppb.New(start), CapacityType: fleetv1.CapacityType_CAPACITY_TYPE_SPOT,
			Labels: map[string]string{purchaseLabel: "on-demand"}},
		{Id: "lbl", Pool: "b", InstanceType: "m.large", State: ready, ConnectedSince: timestamppb.New(start), Labels: map[string]string{purchaseLabel: "spot"}},
		{Id: "bad", Pool: "b", InstanceType: "m.large", State: ready, ConnectedSince: timestamppb.New(start), Labels: map[string]string{purchaseLabel: "maybe"}},
	}
	r := newLedgerRig(t, start, nodes)
	r.run(90 * time.Minute)
	elapsed := r.now.Sub(start).Hours()
	lines := r.report(fleetv1.CostGroupBy_COST_GROUP_BY_CAPACITY_TYPE)
	if l := lines["on_demand"]; !approx(l.GetHostUsd(), 3.6*elapsed) || !approx(l.GetHostHours(), elapsed) {
		t.Errorf("on_demand line %v, want %v USD over %v h", l, 3.6*elapsed, elapsed)
	}
	if l := lines["spot"]; !approx(l.GetHostUsd(), 2*1.8*elapsed) || !approx(l.GetHostHours(), 2*elapsed) || l.GetTokenUsd() != 0 {
		t.Errorf("spot line %v, want %v USD over %v h", l, 2*1.8*elapsed, 2*elapsed)
	}
	if l := lines["unknown"]; l == nil || !l.GetUnknown() {
		t.Errorf("unknown line %v, want the host with a bad purchase label", l)
	}
	if len(lines) != 4 { // on_demand, spot, unknown and the total
		t.Errorf("lines %v", lines)
	}
}
