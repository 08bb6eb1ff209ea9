package scaling

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dspyfleet/dspyfleet/internal/wire"
	"github.com/dspyfleet/dspyfleet/pkg/maintenance"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// atHour opens every day at the hour, UTC.
type atHour int

func (h atHour) Next(t time.Time) time.Time {
	t = t.UTC()
	next := time.Date(t.Year(), t.Month(), t.Day(), int(h), 0, 0, 0, time.UTC)
	if !next.After(t) {
		next = next.AddDate(0, 0, 1)
	}
	return next
}

// TestScalerScaleDownHeldForWindow: with the instances actuator on a pool whose maintenance
// window is not open, a scale command lowering a host's instances is held until the window
// opens, and the job keeps running meanwhile; on a pool without a window it goes at once.
func TestScalerScaleDownHeldForWindow(t *testing.T) {
	r := newScalerRig(t, "")
	// testNow is 12:00 UTC; the gpu pool's window opens at 02:00 for an hour.
	opens := time.Date(2026, 11, 27, 2, 0, 0, 0, time.UTC)
	windows := []maintenance.PolicyWindow{{ID: "w1", Spec: maintenance.WindowSpec{Pool: "gpu", Cron: "0 2 * * *", Schedule: atHour(2), Duration: time.Hour}}}
	r.cmds.SetHolder(func(node string, kind fleetv1.CommandKind, params map[string]string, now time.Time) maintenance.Hold {
		n, err := r.reg.Get(node)
		if err != nil {
			t.Fatal(err)
		}
		disruptive := maintenance.Disruptive(wire.CommandKind(kind), params, int(n.GetLastReport().GetServiceHealth().GetInstances()))
		return maintenance.HoldFor(n.GetPool(), node, disruptive, windows, now)
	})
	for _, pool := range []string{"gpu", "cpu"} {
		r.setPolicy(t, pool, &fleetv1.ScalingPolicy{Min: proto.Uint32(1), Max: 20,
			Targets:   []*fleetv1.ScalingTarget{{Metric: "requests_per_second_per_node", Value: 10}},
			ScaleDown: &fleetv1.ScalingBehavior{Unlimited: true, StabilizationWindow: durationpb.New(time.Nanosecond)},
			Actuator:  &fleetv1.ScalingActuator{Instances: true, MaxInstancesPerNode: 4}})
	}
	// One host per pool running 4 instances, with 10 requests/s in all: 1 instance is enough.
	for id, pool := range map[string]string{"g1": "gpu", "c1": "cpu"} {
		h := &fleetv1.Hello{NodeId: id, InstanceId: "i", Pool: pool, ReportInterval: durationpb.New(time.Second)}
		s, _, err := r.reg.Attach(h, "peer", func(error) {})
		if err != nil {
			t.Fatal(err)
		}
		rep := &fleetv1.MetricsReport{Seq: 1, Time: timestamppb.New(r.now()), App: &fleetv1.AppMetrics{RequestsPerSecond: 10},
			ServiceHealth: &fleetv1.ServiceHealth{Healthy: true, Instances: 4, HealthyInstances: 4}}
		if _, _, err := r.reg.ApplyReport(s, rep); err != nil {
			t.Fatal(err)
		}
	}
	// The first tick records the current size as a recommendation; past the stabilization
	// window, the next scales down.
	for range 2 {
		if err := r.sc.tick(r.now()); err != nil {
			t.Fatal(err)
		}
		r.advance(time.Second)
	}
	byNode := r.scaleCommands()
	g1, c1 := byNode["g1"], byNode["c1"]
	if g1.GetCommand().GetParams()["instances"] != "1" || c1.GetCommand().GetParams()["instances"] != "1" {
		t.Fatalf("scale commands %v, want 4 → 1 on each host", byNode)
	}
	if g1.GetState() != fleetv1.CommandState_COMMAND_STATE_HELD || !g1.GetHeldUntil().AsTime().Equal(opens) {
		t.Fatalf("the scale-down on the pool with a window: %v", g1)
	}
	if c1.GetState() != fleetv1.CommandState_COMMAND_STATE_PENDING {
		t.Fatalf("the scale-down on the pool without a window: %v", c1)
	}
	if j := r.job("gpu"); j.state != actRunning {
		t.Fatalf("the gpu job while its command is held: %+v", j)
	}
	r.advance(opens.Sub(r.now()))
	r.cmds.Release()
	if got, _ := r.cmds.Get(g1.GetCommand().GetId()); got.GetState() != fleetv1.CommandState_COMMAND_STATE_PENDING {
		t.Fatalf("at the opening the scale-down is %v", got.GetState())
	}
}
