package sim_test

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dspyfleet/dspyfleet/internal/fleettest"
	"github.com/dspyfleet/dspyfleet/internal/sim"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// TestRunSmoke runs a short simulation of 20 agents against a real control plane and checks
// that the report is consistent: every request counted once, every agent ready with fresh
// reports, the agents' reports carrying every request, and picks spread over every node.
func TestRunSmoke(t *testing.T) {
	cfg := fleettest.FastConfig(t)
	cfg.Logger = slog.New(slog.DiscardHandler)
	cp := fleettest.StartControlPlane(t, cfg)
	o := sim.DefaultOptions()
	o.Addr, o.Agents, o.Duration, o.Interval, o.Pattern = cp.GRPCAddr(), 20, 2*time.Second, 200*time.Millisecond, "steady"
	o.PeakRPS = 300
	// A scaling policy on the pool (no actuator: decisions only), so the report shows decisions.
	sc := fleetv1.NewScalingServiceClient(fleettest.Dial(t, cp.GRPCAddr()))
	if _, err := sc.SetPolicy(context.Background(), &fleetv1.ScalingServiceSetPolicyRequest{Pool: o.Pool, Policy: &fleetv1.ScalingPolicy{
		Max: 40, Targets: []*fleetv1.ScalingTarget{{Metric: "requests_per_second_per_node", Value: 1}}}}); err != nil {
		t.Fatal(err)
	}
	r, err := sim.Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	q := r.Requests
	if q.Total == 0 || q.Total != q.Successes+q.Errors {
		t.Errorf("requests %d, successes %d + errors %d: want a positive total that adds up", q.Total, q.Successes, q.Errors)
	}
	if q.Reported != q.Total {
		t.Errorf("agents reported %d requests, the traffic sent %d", q.Reported, q.Total)
	}
	if q.Unrouted != 0 || q.SuccessRate < 0.95 {
		t.Errorf("unrouted %d, success rate %v: want 0 and at least 0.95 below capacity (pick errors %v)", q.Unrouted, q.SuccessRate, q.PickErrors)
	}
	if n := r.Nodes; n.Total != o.Agents || n.Ready != o.Agents || n.Fresh != o.Agents {
		t.Errorf("nodes %+v: want all %d ready with fresh reports", n, o.Agents)
	}
	if rt := r.Routing; rt.Nodes != o.Agents || rt.Min == 0 || float64(rt.Max) > 2*rt.Mean {
		t.Errorf("routing %+v: want picks on all %d nodes, none above twice the mean", rt, o.Agents)
	}
	if r.Cost.HostHours <= 0 || r.Cost.TokenUSD <= 0 {
		t.Errorf("cost %+v: want host hours and token cost", r.Cost)
	}
	grew := r.Scaling != nil && slices.ContainsFunc(r.Scaling.Decisions, func(d sim.ScalingDecision) bool {
		return d.Desired > 20 && strings.Contains(d.Reason, "requests_per_second_per_node")
	})
	if !grew {
		t.Errorf("scaling %+v: want a decision to grow the pool past 20 nodes at 15 requests/s per node, saying why", r.Scaling)
	}
}

// startFleet runs a fleet of n agents against a fresh control plane until the test ends.
func startFleet(t *testing.T, n int, interval time.Duration) (*fleettest.ControlPlane, *sim.Fleet) {
	t.Helper()
	cfg := fleettest.FastConfig(t)
	cfg.Logger = slog.New(slog.DiscardHandler)
	// Long enough that a disconnected node is seen before it is declared down.
	cfg.TTLGrace = 1500 * time.Millisecond
	cp := fleettest.StartControlPlane(t, cfg)
	f, err := sim.NewFleet(sim.FleetConfig{
		Addr: cp.GRPCAddr(), Agents: n, Pool: "sim", Interval: interval, Capacity: sim.DefaultCapacity,
		Delays: map[fleetv1.CommandKind]time.Duration{fleetv1.CommandKind_COMMAND_KIND_DRAIN: 50 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("fleet Run: %v", err)
		}
	})
	c := cp.Fleet(t)
	fleettest.Eventually(t, 10*time.Second, "every agent ready", func() bool {
		resp, err := c.ListNodes(context.Background(), &fleetv1.ListNodesRequest{States: []fleetv1.NodeState{fleetv1.NodeState_NODE_STATE_READY}})
		return err == nil && len(resp.GetNodes()) == n
	})
	return cp, f
}

// TestAgentCommands drains and undrains a simulated node through the control plane: the agent
// answers like a real one, and a command already run is not run again.
func TestAgentCommands(t *testing.T) {
	cp, f := startFleet(t, 2, 100*time.Millisecond)
	c := cp.Fleet(t)
	id := sim.NodeID(1)
	if _, err := c.DrainNode(context.Background(), &fleetv1.DrainNodeRequest{Id: id}); err != nil {
		t.Fatal(err)
	}
	fleettest.Eventually(t, 5*time.Second, "node drained", func() bool {
		return fleettest.NodeState(c, id) == fleetv1.NodeState_NODE_STATE_DRAINED
	})
	resp, err := c.SendCommand(context.Background(), &fleetv1.SendCommandRequest{NodeId: id, Kind: fleetv1.CommandKind_COMMAND_KIND_BACKUP})
	if err != nil {
		t.Fatal(err)
	}
	cmdID := resp.GetCommand().GetCommand().GetId()
	fleettest.Eventually(t, 5*time.Second, "backup succeeded", func() bool {
		got, err := c.GetCommand(context.Background(), &fleetv1.GetCommandRequest{Id: cmdID})
		return err == nil && got.GetCommand().GetState() == fleetv1.CommandState_COMMAND_STATE_SUCCEEDED &&
			got.GetCommand().GetFields()["archive"] != ""
	})
	if _, err := c.UndrainNode(context.Background(), &fleetv1.UndrainNodeRequest{Id: id}); err != nil {
		t.Fatal(err)
	}
	fleettest.Eventually(t, 5*time.Second, "node ready again", func() bool {
		return fleettest.NodeState(c, id) == fleetv1.NodeState_NODE_STATE_READY
	})
	got := f.Agent(id).Executed()
	for _, k := range []fleetv1.CommandKind{fleetv1.CommandKind_COMMAND_KIND_DRAIN, fleetv1.CommandKind_COMMAND_KIND_BACKUP, fleetv1.CommandKind_COMMAND_KIND_UNDRAIN} {
		if got[k] != 1 {
			t.Errorf("%s ran %d times, want once (all: %v)", k, got[k], got)
		}
	}
}

// TestAgentFailures checks the failure probes: a killed connection makes the node disconnected,
// a stalled agent is declared down, and both come back ready after Resume.
func TestAgentFailures(t *testing.T) {
	cp, f := startFleet(t, 3, 100*time.Millisecond)
	c := cp.Fleet(t)
	killed, stalled, closed := f.Agent(sim.NodeID(0)), f.Agent(sim.NodeID(1)), f.Agent(sim.NodeID(2))
	killed.Kill()
	stalled.Stall()
	closed.CloseStream()
	for _, w := range []struct {
		id    string
		state fleetv1.NodeState
	}{
		{killed.NodeID(), fleetv1.NodeState_NODE_STATE_DISCONNECTED},
		{closed.NodeID(), fleetv1.NodeState_NODE_STATE_DISCONNECTED},
		{stalled.NodeID(), fleetv1.NodeState_NODE_STATE_DOWN},
	} {
		fleettest.Eventually(t, 5*time.Second, w.id+" "+w.state.String(), func() bool {
			return fleettest.NodeState(c, w.id) == w.state
		})
	}
	for _, a := range []*sim.Agent{killed, stalled, closed} {
		a.Resume()
	}
	fleettest.Eventually(t, 10*time.Second, "every node ready again", func() bool {
		for _, a := range f.Agents() {
			if fleettest.NodeState(c, a.NodeID()) != fleetv1.NodeState_NODE_STATE_READY {
				return false
			}
		}
		return true
	})
	if killed.Sessions() < 2 || stalled.Sessions() < 2 {
		t.Errorf("sessions: killed %d, stalled %d; want a reconnect each", killed.Sessions(), stalled.Sessions())
	}
}
