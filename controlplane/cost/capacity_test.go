package cost

import (
	"strings"
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

// TestBudgetByCapacityType: a spot budget counts the spot hosts' cost only; a capacity type
// with a program, or on a hard budget, is refused naming the field.
func TestBudgetByCapacityType(t *testing.T) {
	start := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	ready := fleetv1.NodeState_NODE_STATE_READY
	r := newLedgerRig(t, start, []*fleetv1.Node{
		{Id: "od", Pool: "a", InstanceType: "m.large", State: ready, ConnectedSince: timestamppb.New(start), CapacityType: fleetv1.CapacityType_CAPACITY_TYPE_ON_DEMAND},
		{Id: "sp", Pool: "a", InstanceType: "m.large", State: ready, ConnectedSince: timestamppb.New(start), CapacityType: fleetv1.CapacityType_CAPACITY_TYPE_SPOT},
		{Id: "sp-b", Pool: "b", InstanceType: "m.large", State: ready, ConnectedSince: timestamppb.New(start), CapacityType: fleetv1.CapacityType_CAPACITY_TYPE_SPOT},
	})
	daily := fleetv1.BudgetPeriod_BUDGET_PERIOD_DAILY
	spot := fleetv1.CapacityType_CAPACITY_TYPE_SPOT
	for _, b := range []*fleetv1.Budget{
		{Name: "spot-a", Period: daily, LimitUsd: 100, Pool: "a", CapacityType: spot},
		{Name: "spot-all", Period: daily, LimitUsd: 100, CapacityType: spot},
		{Name: "pool-a", Period: daily, LimitUsd: 100, Pool: "a"},
	} {
		if _, err := r.c.SetBudget(b, r.now); err != nil {
			t.Fatal(err)
		}
	}
	r.run(time.Hour)
	resp, err := r.c.ListBudgets()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"spot-a": 1.8, "spot-all": 2 * 1.8, "pool-a": 3.6 + 1.8}
	for _, st := range resp.GetBudgets() {
		if w := want[st.GetBudget().GetName()]; !approx(st.GetSpendUsd(), w) {
			t.Errorf("budget %s spent %v, want %v", st.GetBudget().GetName(), st.GetSpendUsd(), w)
		}
	}
	for b, field := range map[*fleetv1.Budget]string{
		{Name: "x", Period: daily, LimitUsd: 1, Program: "qa", CapacityType: spot}: "budget.capacity_type",
		{Name: "y", Period: daily, LimitUsd: 1, Hard: true, CapacityType: spot}:    "budget.hard",
		{Name: "z", Period: daily, LimitUsd: 1, CapacityType: 9}:                   "budget.capacity_type",
	} {
		if _, err := r.c.SetBudget(b, r.now); err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("%v: %v, want an error naming %s", b, err, field)
		}
	}
}
