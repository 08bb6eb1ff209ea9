package scaling

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/dspyfleet/dspyfleet/pkg/scaling"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

func TestPolicyCapacityFromProto(t *testing.T) {
	p, _, err := PolicyFromProto(&fleetv1.ScalingPolicy{Max: 10, BaseOnDemand: 2, SpotFraction: 0.5, DynamicOnDemandFallback: true, SpotRetry: durationpb.New(time.Minute)}, "")
	if err != nil {
		t.Fatal(err)
	}
	if want := (scaling.Capacity{BaseOnDemand: 2, SpotFraction: 0.5, Fallback: true, SpotRetry: time.Minute}); p.Capacity != want {
		t.Errorf("capacity %+v, want %+v", p.Capacity, want)
	}
	for pp, field := range map[*fleetv1.ScalingPolicy]string{
		{Max: 10, SpotFraction: 1.5}:                            "policy.spot_fraction",
		{Max: 10, BaseOnDemand: 11}:                             "policy.base_on_demand",
		{Max: 10, SpotRetry: &durationpb.Duration{Seconds: -1}}: "policy.spot_retry",
	} {
		if _, _, err := PolicyFromProto(pp, ""); err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("%v: %v, want an error naming %s", pp, err, field)
		}
	}
}

func TestCapacityPlan(t *testing.T) {
	now := time.Unix(1e9, 0)
	node := func(id string, c fleetv1.CapacityType, labels map[string]string) *fleetv1.Node {
		return &fleetv1.Node{Id: id, State: fleetv1.NodeState_NODE_STATE_READY, CapacityType: c, Labels: labels}
	}
	nodes := []*fleetv1.Node{
		node("a", fleetv1.CapacityType_CAPACITY_TYPE_ON_DEMAND, nil),
		node("b", fleetv1.CapacityType_CAPACITY_TYPE_UNSPECIFIED, map[string]string{"spot": "true"}),
		node("c", fleetv1.CapacityType_CAPACITY_TYPE_SPOT, nil),
	}
	nodes[2].DrainRequested = true // reclaimed: not counted
	ps := &poolScaling{policy: scaling.DefaultPolicy(1, 10)}
	ps.policy.Capacity = scaling.Capacity{BaseOnDemand: 1, SpotFraction: 1, Fallback: true, SpotRetry: 10 * time.Minute}
	d := scaling.Decision{Current: 2, Desired: 3}
	if target, add := ps.capacityPlanLocked(d, nodes, now); target != (scaling.Mix{OnDemand: 1, Spot: 2}) || add != (scaling.Mix{Spot: 1}) {
		t.Errorf("spot available: target %+v add %+v, want 1+2 and one spot", target, add)
	}
	ps.spotLost = now.Add(-time.Minute)
	if target, add := ps.capacityPlanLocked(d, nodes, now); target != (scaling.Mix{OnDemand: 3}) || add != (scaling.Mix{OnDemand: 1}) {
		t.Errorf("spot just lost: target %+v add %+v, want all on-demand", target, add)
	}
	env := strings.Join(capacityEnv(&hookJob{target: scaling.Mix{OnDemand: 3}, add: scaling.Mix{OnDemand: 1}}), " ")
	if want := "CAPACITY_TYPE=on_demand ADD_ON_DEMAND=1 ADD_SPOT=0 DESIRED_ON_DEMAND=3 DESIRED_SPOT=0"; env != want {
		t.Errorf("hook env %q, want %q", env, want)
	}
}

func TestSpotFailedFallsBack(t *testing.T) {
	now := time.Unix(1e9, 0)
	for _, fallback := range []bool{false, true} {
		ps := &poolScaling{policy: scaling.DefaultPolicy(1, 10)}
		ps.policy.Capacity = scaling.Capacity{BaseOnDemand: 1, SpotFraction: 1, Fallback: fallback, SpotRetry: 10 * time.Minute}
		j := &hookJob{desired: 4, target: scaling.Mix{OnDemand: 1, Spot: 3}, add: scaling.Mix{Spot: 2}}
		ps.spotFailedLocked(j, now)
		if !ps.spotLost.Equal(now) {
			t.Errorf("fallback %v: spot not marked lost", fallback)
		}
		want := scaling.Mix{Spot: 2}
		if fallback {
			want = scaling.Mix{OnDemand: 2}
		}
		if j.add != want {
			t.Errorf("fallback %v: retry adds %+v, want %+v", fallback, j.add, want)
		}
	}
	ps := &poolScaling{}
	j := &hookJob{add: scaling.Mix{OnDemand: 1}}
	ps.spotFailedLocked(j, now)
	if !ps.spotLost.IsZero() {
		t.Error("an on-demand launch that failed marked spot lost")
	}
}
