package e2e

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/dspyfleet/dspyfleet/internal/fleettest"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

const (
	ready        = fleetv1.NodeState_NODE_STATE_READY
	disconnected = fleetv1.NodeState_NODE_STATE_DISCONNECTED
	down         = fleetv1.NodeState_NODE_STATE_DOWN
)

func waitState(t *testing.T, c fleetv1.FleetServiceClient, id string, want fleetv1.NodeState, within time.Duration) {
	t.Helper()
	fleettest.Eventually(t, within, fmt.Sprintf("%s to be %s", id, want), func() bool {
		return fleettest.NodeState(c, id) == want
	})
}

// throughReports follows node id's next n metrics reports through WatchNodes and calls check
// with the node after each. A condition that must go on holding is checked across reports the
// agent made meanwhile: they share the agent's one stream with its command updates, which its
// sender hands on as they come, so an outcome reached before one report is applied by the next.
func throughReports(t *testing.T, c fleetv1.FleetServiceClient, id string, n int, within time.Duration, check func(*fleetv1.Node)) {
	t.Helper()
	seen := 0
	watchUntil(t, within, fmt.Sprintf("%d reports of %s", n, id), c.WatchNodes, &fleetv1.WatchNodesRequest{IncludeReports: true},
		func(ev *fleetv1.WatchNodesResponse) bool {
			t.Helper()
			if ev.GetType() == fleetv1.NodeEventType_NODE_EVENT_TYPE_REPORT && ev.GetNode().GetId() == id {
				check(ev.GetNode())
				seen++
			}
			return seen == n
		})
}

func TestThreeAgentsReadyWithHostMetrics(t *testing.T) {
	cp := fleettest.StartControlPlane(t, fleettest.FastConfig(t))
	c := cp.Fleet(t)
	for i := 1; i <= 3; i++ {
		startAgent(t, cp.GRPCAddr(), fmt.Sprintf("node-%d", i))
	}
	fleettest.Eventually(t, 10*time.Second, "three ready nodes with host metrics", func() bool {
		resp, err := c.ListNodes(context.Background(), &fleetv1.ListNodesRequest{States: []fleetv1.NodeState{ready}})
		if err != nil || len(resp.GetNodes()) != 3 {
			return false
		}
		for _, n := range resp.GetNodes() {
			if n.GetLastReport().GetHost().GetMemoryTotalBytes() == 0 {
				return false
			}
		}
		return true
	})
	resp, err := c.ListNodes(context.Background(), &fleetv1.ListNodesRequest{Pool: "web", Labels: map[string]string{"zone": "a"}})
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range resp.GetNodes() {
		if want := fmt.Sprintf("node-%d", i+1); n.GetId() != want {
			t.Fatalf("node %d is %s, want %s (sorted by id)", i, n.GetId(), want)
		}
		h := n.GetLastReport().GetHost()
		if h.GetCpuCount() == 0 || h.GetUptime().AsDuration() <= 0 || len(h.GetCollectors()) == 0 {
			t.Fatalf("%s host metrics incomplete: %v", n.GetId(), h)
		}
		if n.GetPeerAddress() == "" || n.GetAgentInstanceId() == "" || n.GetReportInterval().AsDuration() != testInterval {
			t.Fatalf("%s session fields missing: %v", n.GetId(), n)
		}
	}
	other, err := c.ListNodes(context.Background(), &fleetv1.ListNodesRequest{Pool: "other"})
	if err != nil || len(other.GetNodes()) != 0 {
		t.Fatalf("pool filter: %v, %v", other, err)
	}
}

func TestGracefulStopThenDown(t *testing.T) {
	cfg := fleettest.FastConfig(t)
	cfg.TTLGrace = time.Second // room for a slow stop on a loaded machine before the TTL runs out
	cp := fleettest.StartControlPlane(t, cfg)
	c := cp.Fleet(t)
	a := startAgent(t, cp.GRPCAddr(), "leaving")
	startAgent(t, cp.GRPCAddr(), "staying")
	waitState(t, c, "leaving", ready, 10*time.Second)
	waitState(t, c, "staying", ready, 10*time.Second)

	a.stop(t)
	n := fleettest.Node(t, c, "leaving")
	if n.GetState() != disconnected {
		t.Fatalf("right after a graceful stop: state %s (%s), want disconnected", n.GetState(), n.GetStateReason())
	}
	if n.GetStateReason() != "agent shut down: agent stopping" {
		t.Fatalf("reason %q", n.GetStateReason())
	}
	ttlPlusGrace := 3*testInterval + cp.Config.TTLGrace
	waitState(t, c, "leaving", down, 5*time.Second)
	n = fleettest.Node(t, c, "leaving")
	if silent := n.GetStateSince().AsTime().Sub(n.GetLastSeen().AsTime()); silent < ttlPlusGrace {
		t.Fatalf("declared down after %s of silence, before TTL+grace %s", silent, ttlPlusGrace)
	}
	if got := fleettest.NodeState(c, "staying"); got != ready {
		t.Fatalf("the other node is %s", got)
	}
}

func TestStalledConnectionDownThenRecovers(t *testing.T) {
	cp := fleettest.StartControlPlane(t, fleettest.FastConfig(t))
	c := cp.Fleet(t)
	proxy := fleettest.StartProxy(t, cp.GRPCAddr())
	a := startAgent(t, proxy.Addr(), "stalled")
	waitState(t, c, "stalled", ready, 10*time.Second)

	watchCtx, stopWatch := context.WithCancel(context.Background())
	defer stopWatch()
	w, err := c.WatchNodes(watchCtx, &fleetv1.WatchNodesRequest{IncludeReports: true})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []uint64
	go func() {
		for {
			ev, err := w.Recv()
			if err != nil {
				return
			}
			if ev.GetType() == fleetv1.NodeEventType_NODE_EVENT_TYPE_REPORT {
				mu.Lock()
				got = append(got, ev.GetNode().GetLastReport().GetSeq())
				mu.Unlock()
			}
		}
	}()
	fleettest.Eventually(t, 10*time.Second, "the watcher to see three reports before the stall", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) >= 3
	})

	proxy.Stall()
	stalledAt := time.Now()
	ttlPlusGrace := 3*testInterval + cp.Config.TTLGrace
	waitState(t, c, "stalled", down, 5*time.Second)
	n := fleettest.Node(t, c, "stalled")
	silent := n.GetStateSince().AsTime().Sub(n.GetLastSeen().AsTime())
	if silent < ttlPlusGrace {
		t.Fatalf("declared down after %s of silence, before TTL+grace %s", silent, ttlPlusGrace)
	}
	if late := silent - ttlPlusGrace; late > time.Second {
		t.Fatalf("declared down %s after TTL+grace", late)
	}
	t.Logf("down %s after the stall; silence %s (TTL+grace %s)", time.Since(stalledAt).Round(time.Millisecond), silent.Round(time.Millisecond), ttlPlusGrace)

	// Reports made now, after the node was declared down, are buffered by the agent.
	atDown := a.Stats().Buffered
	fleettest.Eventually(t, 10*time.Second, "the agent to buffer five reports made after the node was declared down", func() bool {
		return a.Stats().Buffered >= atDown+5
	})
	proxy.Heal()
	waitState(t, c, "stalled", ready, 10*time.Second)
	fleettest.Eventually(t, 10*time.Second, "buffered reports delivered", func() bool { return a.Stats().Buffered <= 1 })
	last := fleettest.Node(t, c, "stalled").GetLastReport().GetSeq()
	fleettest.Eventually(t, 10*time.Second, "the watcher to see every stored report", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) > 0 && got[len(got)-1] >= last
	})
	stopWatch()
	mu.Lock()
	defer mu.Unlock()
	if len(got) < 5 {
		t.Fatalf("watched only %d reports: %v", len(got), got)
	}
	for i := 1; i < len(got); i++ {
		if got[i] != got[i-1]+1 {
			t.Fatalf("reports not delivered in order without gaps: %v", got)
		}
	}
	if d := a.Stats().Dropped; d != 0 {
		t.Fatalf("agent dropped %d reports", d)
	}
}

func TestRestartKeepsNodesAndAgentsReturn(t *testing.T) {
	cfg := fleettest.FastConfig(t)
	cp1 := fleettest.StartControlPlane(t, cfg)
	proxy := fleettest.StartProxy(t, cp1.GRPCAddr())
	for _, id := range []string{"a1", "a2"} {
		startAgent(t, proxy.Addr(), id)
	}
	c1 := cp1.Fleet(t)
	waitState(t, c1, "a1", ready, 10*time.Second)
	waitState(t, c1, "a2", ready, 10*time.Second)
	fleettest.Eventually(t, 5*time.Second, "reports of both nodes", func() bool {
		return fleettest.Node(t, c1, "a1").GetReportsReceived() > 2 && fleettest.Node(t, c1, "a2").GetReportsReceived() > 0
	})
	cp1.Stop(t)

	cfg2 := cfg
	cfg2.GRPCListen, cfg2.HTTPListen = "127.0.0.1:0", "127.0.0.1:0"
	cp2 := fleettest.StartControlPlane(t, cfg2)
	c2 := cp2.Fleet(t)
	for _, id := range []string{"a1", "a2"} {
		n := fleettest.Node(t, c2, id)
		if n.GetState() == down || n.GetLastReport().GetHost().GetMemoryTotalBytes() == 0 {
			t.Fatalf("after restart %s is %s with last report %v", id, n.GetState(), n.GetLastReport())
		}
	}
	proxy.SetTarget(cp2.GRPCAddr())
	waitState(t, c2, "a1", ready, 10*time.Second)
	waitState(t, c2, "a2", ready, 10*time.Second)
}

func TestWatchNodesStreamsStateChanges(t *testing.T) {
	cp := fleettest.StartControlPlane(t, fleettest.FastConfig(t))
	c := cp.Fleet(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	w, err := c.WatchNodes(ctx, &fleetv1.WatchNodesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if ev, err := w.Recv(); err != nil || ev.GetType() != fleetv1.NodeEventType_NODE_EVENT_TYPE_SYNCED {
		t.Fatalf("first event on an empty fleet: %v, %v", ev, err)
	}
	a := startAgent(t, cp.GRPCAddr(), "watched")
	next := func() *fleetv1.WatchNodesResponse {
		t.Helper()
		ev, err := w.Recv()
		if err != nil {
			t.Fatalf("watch: %v", err)
		}
		return ev
	}
	if ev := next(); ev.GetType() != fleetv1.NodeEventType_NODE_EVENT_TYPE_ADDED || ev.GetNode().GetState() != ready {
		t.Fatalf("want ADDED ready, got %v", ev)
	}
	a.stop(t)
	for _, want := range []struct{ prev, now fleetv1.NodeState }{{ready, disconnected}, {disconnected, down}} {
		ev := next()
		if ev.GetType() != fleetv1.NodeEventType_NODE_EVENT_TYPE_STATE_CHANGED || ev.GetPreviousState() != want.prev || ev.GetNode().GetState() != want.now {
			t.Fatalf("want %s -> %s, got %v", want.prev, want.now, ev)
		}
	}

	// A new watcher first gets the current node, then SYNCED.
	w2, err := c.WatchNodes(ctx, &fleetv1.WatchNodesRequest{Pool: "web"})
	if err != nil {
		t.Fatal(err)
	}
	if ev, err := w2.Recv(); err != nil || ev.GetType() != fleetv1.NodeEventType_NODE_EVENT_TYPE_INITIAL || ev.GetNode().GetId() != "watched" {
		t.Fatalf("want INITIAL watched, got %v, %v", ev, err)
	}
	if ev, err := w2.Recv(); err != nil || ev.GetType() != fleetv1.NodeEventType_NODE_EVENT_TYPE_SYNCED {
		t.Fatalf("want SYNCED, got %v, %v", ev, err)
	}
}
