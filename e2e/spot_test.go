package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/dspyfleet/dspyfleet/agent"
	"github.com/dspyfleet/dspyfleet/agent/preempt"
	"github.com/dspyfleet/dspyfleet/agent/preempt/preempttest"
	"github.com/dspyfleet/dspyfleet/internal/fleettest"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// spotInterval is the report interval of the spot node that gets the notice: long enough that
// "within one report" is a real bound.
const spotInterval = time.Second

// TestSpotInterruptionDrainsAndReplaces runs a control plane with a scaled pool of one
// on-demand and two spot nodes; one spot agent watches a metadata server on loopback that then
// announces the host's reclaim. The node must be draining within one report of the notice, no
// pick may go to it after, the scaler must ask its hook for an on-demand replacement (spot just
// failed and the policy falls back) while the node is still connected, and the node's in-flight
// request must finish before it counts as drained.
func TestSpotInterruptionDrainsAndReplaces(t *testing.T) {
	meta := preempttest.New(t.Cleanup)
	cfg := fleettest.FastConfig(t)
	cfg.ScalingHookDir = t.TempDir()
	hookLog := filepath.Join(t.TempDir(), "hook.log")
	hook := filepath.Join(cfg.ScalingHookDir, "scale.sh")
	script := fmt.Sprintf("#!/bin/sh\necho \"$CURRENT $DESIRED $CAPACITY_TYPE $ADD_ON_DEMAND $ADD_SPOT $DESIRED_ON_DEMAND $DESIRED_SPOT\" >> %s\n", hookLog)
	if err := os.WriteFile(hook, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	cp := fleettest.StartControlPlane(t, cfg)
	ctx := t.Context()
	conn := fleettest.Dial(t, cp.GRPCAddr())
	fleet := fleetv1.NewFleetServiceClient(conn)
	rc := fleetv1.NewRoutingServiceClient(conn)
	sc := fleetv1.NewScalingServiceClient(conn)

	startAgentWith(t, cp.GRPCAddr(), "web-1", func(c *agent.Config) {
		c.AdvertiseAddr, c.CapacityType = "127.0.0.1:9001", preempt.OnDemand
	})
	spot := startAgentWith(t, cp.GRPCAddr(), "web-2", func(c *agent.Config) {
		c.AdvertiseAddr, c.Interval = "127.0.0.1:9002", spotInterval
		c.Cloud, c.MetadataURL, c.MetadataInterval = preempt.EC2, meta.URL, 20*time.Millisecond
	})
	startAgentWith(t, cp.GRPCAddr(), "web-3", func(c *agent.Config) {
		c.AdvertiseAddr, c.CapacityType = "127.0.0.1:9003", preempt.Spot
	})
	fleettest.Eventually(t, 10*time.Second, "three ready nodes", func() bool {
		for _, id := range []string{"web-1", "web-2", "web-3"} {
			if fleettest.NodeState(fleet, id) != fleetv1.NodeState_NODE_STATE_READY {
				return false
			}
		}
		return true
	})
	if c := fleettest.Node(t, fleet, "web-2").GetCapacityType(); c != fleetv1.CapacityType_CAPACITY_TYPE_SPOT {
		t.Fatalf("web-2 capacity type %s, want spot (read from the metadata service)", c)
	}
	if _, err := sc.SetPolicy(ctx, &fleetv1.ScalingServiceSetPolicyRequest{Pool: "web", Policy: &fleetv1.ScalingPolicy{
		// A target that never moves the pool, so only the replacement does (the host's real CPU
		// would under the default cpu target).
		Targets: []*fleetv1.ScalingTarget{{Metric: "queue_length_per_node", Value: 1000}},
		Min:     proto.Uint32(3), Max: 6, BaseOnDemand: 1, SpotFraction: 1, DynamicOnDemandFallback: true,
		Actuator: &fleetv1.ScalingActuator{ExecHook: hook},
	}}); err != nil {
		t.Fatal(err)
	}

	// Critical picks stay on the on-demand node while it is ready.
	for range 20 {
		pk, err := rc.Pick(ctx, &fleetv1.PickRequest{Pool: "web", Critical: true})
		if err != nil {
			t.Fatal(err)
		}
		if pk.GetNodeId() != "web-1" {
			t.Fatalf("critical pick went to %s, want the on-demand node web-1", pk.GetNodeId())
		}
	}

	// Picks run all along; each records the node's state the test saw before it.
	var (
		mu          sync.Mutex
		noticeSeen  bool
		lateToSpot  []string
		stopPicking = make(chan struct{})
		picking     sync.WaitGroup
	)
	picking.Add(1)
	go func() {
		defer picking.Done()
		for i := 0; i < 5000; i++ {
			select {
			case <-stopPicking:
				return
			default:
			}
			mu.Lock()
			after := noticeSeen
			mu.Unlock()
			pk, err := rc.Pick(ctx, &fleetv1.PickRequest{Pool: "web"})
			if err != nil {
				continue
			}
			if after && pk.GetNodeId() == "web-2" {
				mu.Lock()
				lateToSpot = append(lateToSpot, pk.GetNodeId())
				mu.Unlock()
			}
		}
	}()

	end := spot.Requests().Begin() // a request in flight on the reclaimed node
	before := fleettest.Node(t, fleet, "web-2").GetReportsReceived()
	deadline := time.Now().Add(2 * time.Minute).Truncate(time.Second)
	meta.Notify(deadline)
	fleettest.Eventually(t, 10*time.Second, "web-2 draining", func() bool {
		return fleettest.NodeState(fleet, "web-2") == fleetv1.NodeState_NODE_STATE_DRAINING
	})
	n := fleettest.Node(t, fleet, "web-2")
	mu.Lock()
	noticeSeen = true
	mu.Unlock()
	if got := n.GetReportsReceived() - before; got > 1 {
		t.Errorf("web-2 went draining %d reports after the notice, want within one", got)
	}
	if n.GetInterruption().GetSource() != "ec2" || !n.GetInterruption().GetDeadline().AsTime().Equal(deadline) {
		t.Errorf("interruption on the node = %v, want ec2 at %s", n.GetInterruption(), deadline)
	}
	if !spot.Draining() {
		t.Error("the interrupted agent still accepts new requests")
	}

	// The replacement: on-demand, since spot was just reclaimed and the policy falls back.
	var call string
	fleettest.Eventually(t, 10*time.Second, "the hook's replacement call", func() bool {
		b, _ := os.ReadFile(hookLog)
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		call = lines[len(lines)-1]
		return strings.HasSuffix(string(b), "\n")
	})
	if want := "2 3 on_demand 1 0 3 0"; call != want {
		t.Errorf("hook called with %q (CURRENT DESIRED CAPACITY_TYPE ADD_ON_DEMAND ADD_SPOT DESIRED_ON_DEMAND DESIRED_SPOT), want %q", call, want)
	}
	if s := fleettest.NodeState(fleet, "web-2"); !slices.Contains([]fleetv1.NodeState{fleetv1.NodeState_NODE_STATE_DRAINING, fleetv1.NodeState_NODE_STATE_DRAINED}, s) {
		t.Errorf("web-2 is %s when its replacement is asked for, want it still connected", s)
	}
	st, err := sc.GetStatus(ctx, &fleetv1.ScalingServiceGetStatusRequest{Pool: "web"})
	if err != nil {
		t.Fatal(err)
	}
	if a := st.GetActuation(); a.GetCapacityType() != "on_demand" || a.GetDesiredOnDemand() != 3 {
		t.Errorf("actuation %v, want on_demand with 3 on-demand nodes targeted", a)
	}

	// In-flight work finishes within the notice window: drained only once it ended.
	if fleettest.Node(t, fleet, "web-2").GetDrained() {
		t.Fatal("web-2 drained with a request in flight")
	}
	end()
	fleettest.Eventually(t, 10*time.Second, "web-2 drained", func() bool {
		return fleettest.NodeState(fleet, "web-2") == fleetv1.NodeState_NODE_STATE_DRAINED
	})
	close(stopPicking)
	picking.Wait()
	if len(lateToSpot) > 0 {
		t.Errorf("%d picks went to web-2 after its notice", len(lateToSpot))
	}
	for range 20 {
		pk, err := rc.Pick(ctx, &fleetv1.PickRequest{Pool: "web"})
		if err != nil {
			t.Fatal(err)
		}
		if pk.GetNodeId() == "web-2" {
			t.Fatal("a pick went to the reclaimed node")
		}
	}
}

// TestSIGTERMNotice: the agent's shutdown signal with a notice reports an interruption at once
// (the node drains out of routing) and waits for in-flight work before the agent stops.
func TestSIGTERMNotice(t *testing.T) {
	cp := fleettest.StartControlPlane(t, fleettest.FastConfig(t))
	fleet := cp.Fleet(t)
	ra := startAgentWith(t, cp.GRPCAddr(), "web-1", func(c *agent.Config) { c.AdvertiseAddr = "127.0.0.1:9001" })
	fleettest.Eventually(t, 10*time.Second, "web-1 ready", func() bool {
		return fleettest.NodeState(fleet, "web-1") == fleetv1.NodeState_NODE_STATE_READY
	})
	end := ra.Requests().Begin()
	done := make(chan struct{})
	go func() {
		defer close(done)
		ra.Terminate(t.Context(), time.Minute)
	}()
	fleettest.Eventually(t, 10*time.Second, "web-1 draining on SIGTERM", func() bool {
		n := fleettest.Node(t, fleet, "web-1")
		return n.GetState() == fleetv1.NodeState_NODE_STATE_DRAINING && n.GetInterruption().GetSource() == preempt.SourceSIGTERM
	})
	select {
	case <-done:
		t.Fatal("Terminate returned with a request in flight")
	default:
	}
	end()
	<-done
}
