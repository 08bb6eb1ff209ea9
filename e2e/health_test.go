package e2e

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dspyfleet/dspyfleet/agent"
	"github.com/dspyfleet/dspyfleet/agent/proxy"
	"github.com/dspyfleet/dspyfleet/internal/fleettest"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

const unhealthy = fleetv1.NodeState_NODE_STATE_UNHEALTHY

// buildHealthsrv builds the stand-in DSPy service into a temporary directory.
func buildHealthsrv(t *testing.T) string {
	t.Helper()
	srv := filepath.Join(t.TempDir(), "healthsrv")
	if out, err := exec.Command("go", "build", "-o", srv, "github.com/dspyfleet/dspyfleet/agent/service/testdata/healthsrv").CombinedOutput(); err != nil {
		t.Fatalf("build healthsrv: %v\n%s", err, out)
	}
	return srv
}

// nodeOf returns the control plane's record of node id.
func nodeOf(t *testing.T, c fleetv1.FleetServiceClient, id string) *fleetv1.Node {
	t.Helper()
	n, err := c.GetNode(context.Background(), &fleetv1.GetNodeRequest{Id: id})
	if err != nil {
		t.Fatal(err)
	}
	return n.GetNode()
}

// TestFailingHealthCheckTakesTheNodeOutOfRouting: a node whose service fails its health check
// stayed ready and routable. It turns unhealthy, leaves routing, and comes back when the check
// passes again.
func TestFailingHealthCheckTakesTheNodeOutOfRouting(t *testing.T) {
	srv := buildHealthsrv(t)
	sick := filepath.Join(t.TempDir(), "sick")
	cp := fleettest.StartControlPlane(t, fleettest.FastConfig(t))
	c := cp.Fleet(t)
	rc := fleetv1.NewRoutingServiceClient(fleettest.Dial(t, cp.GRPCAddr()))
	port := fleettest.FreePortRange(t, 1)
	startAgentWith(t, cp.GRPCAddr(), "web-1", func(cfg *agent.Config) {
		cfg.AdvertiseAddr = "127.0.0.1:9001"
		cfg.ActionsConfig = agent.ActionsConfig{Service: &agent.ServiceConfig{
			Manager: "process", Command: []string{srv, "-sick-file", sick}, BasePort: port, StopGrace: 2 * time.Second,
			Health: agent.HealthConfig{URL: "http://127.0.0.1:{port}/healthz", Timeout: 10 * time.Second},
		}}
	})
	startAgentWith(t, cp.GRPCAddr(), "web-2", func(cfg *agent.Config) { cfg.AdvertiseAddr = "127.0.0.1:9002" })
	waitState(t, c, "web-1", ready, 10*time.Second)
	fleettest.Eventually(t, 10*time.Second, "web-1 reports its service healthy", func() bool {
		return nodeOf(t, c, "web-1").GetLastReport().GetServiceHealth().GetHealthyInstances() == 1
	})

	if err := os.WriteFile(sick, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, "web-1", unhealthy, 10*time.Second)
	n := nodeOf(t, c, "web-1")
	if !strings.Contains(n.GetStateReason(), "service unhealthy") || !strings.Contains(n.GetStateReason(), "fails its health check") ||
		!strings.Contains(n.GetStateReason(), "500") {
		t.Errorf("state reason %q does not say what failed", n.GetStateReason())
	}
	fleettest.Eventually(t, 5*time.Second, "web-1 out of routing", func() bool {
		st, err := rc.GetStatus(context.Background(), &fleetv1.RoutingServiceGetStatusRequest{Pool: "web"})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range st.GetNodes() {
			if e.GetNodeId() == "web-1" {
				return !e.GetEligible()
			}
		}
		return false
	})
	for range 20 {
		p, err := rc.Pick(context.Background(), &fleetv1.PickRequest{Pool: "web"})
		if err != nil {
			t.Fatal(err)
		}
		if p.GetNodeId() == "web-1" {
			t.Fatal("unhealthy web-1 picked")
		}
	}

	if err := os.Remove(sick); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, "web-1", ready, 10*time.Second)
	if r := nodeOf(t, c, "web-1").GetStateReason(); r != "service healthy again" {
		t.Errorf("back to ready with reason %q", r)
	}
}

// TestCrashLoopingServiceMakesTheNodeUnhealthy: a service that exits every time it starts left
// the node ready.
func TestCrashLoopingServiceMakesTheNodeUnhealthy(t *testing.T) {
	srv := buildHealthsrv(t)
	cp := fleettest.StartControlPlane(t, fleettest.FastConfig(t))
	c := cp.Fleet(t)
	port := fleettest.FreePortRange(t, 1)
	startAgentWith(t, cp.GRPCAddr(), "looping", func(cfg *agent.Config) {
		cfg.ActionsConfig = agent.ActionsConfig{Service: &agent.ServiceConfig{
			Manager: "process", Command: []string{srv, "-exit-after", "50ms"}, BasePort: port, StopGrace: time.Second,
			Health: agent.HealthConfig{URL: "http://127.0.0.1:{port}/healthz", Timeout: 10 * time.Second},
		}}
	})
	waitState(t, c, "looping", unhealthy, 15*time.Second)
	// Unhealthy from its Hello on (starting); the reason follows the service's verdict to the crash.
	fleettest.Eventually(t, 15*time.Second, "the state reason to name the crash", func() bool {
		r := nodeOf(t, c, "looping").GetStateReason()
		return strings.Contains(r, "instance 0 is exited") && strings.Contains(r, "exit status 3")
	})
	if st := fleettest.NodeState(c, "looping"); st != fleetv1.NodeState_NODE_STATE_UNHEALTHY {
		t.Errorf("a crash-looping service left its node %s", st)
	}
}

// TestRestartLetsInFlightRequestsFinish: a request in flight got 502 when restart ran, and the
// node stayed routable. The node leaves routing, the request finishes, the service restarts and
// passes its health check, and the node comes back.
func TestRestartLetsInFlightRequestsFinish(t *testing.T) {
	srv := buildHealthsrv(t)
	cp := fleettest.StartControlPlane(t, fleettest.FastConfig(t))
	c := cp.Fleet(t)
	port := fleettest.FreePortRange(t, 1)
	a := startAgentWith(t, cp.GRPCAddr(), "web-1", func(cfg *agent.Config) {
		cfg.ActionsConfig = agent.ActionsConfig{Service: &agent.ServiceConfig{
			Manager: "process", Command: []string{srv}, BasePort: port, StopGrace: 2 * time.Second,
			Health: agent.HealthConfig{URL: "http://127.0.0.1:{port}/healthz", Timeout: 10 * time.Second},
		}}
		cfg.Proxy = proxy.Config{Listen: "127.0.0.1:0", Upstream: "127.0.0.1:" + strconv.Itoa(port), RetryAfter: time.Second}
	})
	waitState(t, c, "web-1", ready, 10*time.Second)

	slow := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + a.ProxyAddr() + "/predict?sleep=1500ms")
		if err != nil {
			slow <- err.Error()
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		slow <- strconv.Itoa(resp.StatusCode)
	}()
	fleettest.Eventually(t, 5*time.Second, "the slow request in flight", func() bool { return a.Requests().InFlight() == 1 })
	resp, err := c.SendCommand(context.Background(), &fleetv1.SendCommandRequest{NodeId: "web-1", Kind: fleetv1.CommandKind_COMMAND_KIND_RESTART})
	if err != nil {
		t.Fatal(err)
	}
	id := resp.GetCommand().GetCommand().GetId()
	waitState(t, c, "web-1", draining, 5*time.Second)
	if r := nodeOf(t, c, "web-1").GetStateReason(); !strings.Contains(r, "restart "+id+": draining") {
		t.Errorf("while restarting, state reason %q", r)
	}
	if got := <-slow; got != "200" {
		t.Errorf("the request in flight during the restart got %s, want 200", got)
	}
	rec := waitCommand(t, c, id, fleetv1.CommandState_COMMAND_STATE_SUCCEEDED, 30*time.Second)
	if !strings.HasPrefix(rec.GetDetail(), "drained in ") || rec.GetFields()["drain_in_flight"] != "0" ||
		rec.GetFields()["new_pids"] == "" || rec.GetFields()["new_pids"] == rec.GetFields()["old_pids"] {
		t.Errorf("restart outcome %q %v", rec.GetDetail(), rec.GetFields())
	}
	waitState(t, c, "web-1", ready, 10*time.Second)
	if n := nodeOf(t, c, "web-1"); n.GetDrainRequested() || n.GetRestartHold() != "" || !strings.Contains(n.GetStateReason(), "restart "+id+" finished: succeeded") {
		t.Errorf("after the restart: drain %v, hold %q, reason %q", n.GetDrainRequested(), n.GetRestartHold(), n.GetStateReason())
	}
	res, err := http.Get("http://" + a.ProxyAddr() + "/predict")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("after the restart the proxy answers %d", res.StatusCode)
	}
}

// TestRestartKeepsAnOperatorsDrain: a restart of a drained node leaves it drained.
func TestRestartKeepsAnOperatorsDrain(t *testing.T) {
	srv := buildHealthsrv(t)
	cp := fleettest.StartControlPlane(t, fleettest.FastConfig(t))
	c := cp.Fleet(t)
	port := fleettest.FreePortRange(t, 1)
	startAgentWith(t, cp.GRPCAddr(), "web-1", func(cfg *agent.Config) {
		cfg.ActionsConfig = agent.ActionsConfig{Service: &agent.ServiceConfig{
			Manager: "process", Command: []string{srv}, BasePort: port, StopGrace: 2 * time.Second,
			Health: agent.HealthConfig{URL: "http://127.0.0.1:{port}/healthz", Timeout: 10 * time.Second},
		}}
	})
	waitState(t, c, "web-1", ready, 10*time.Second)
	if _, err := c.DrainNode(context.Background(), &fleetv1.DrainNodeRequest{Id: "web-1"}); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, "web-1", drained, 10*time.Second)
	send(t, c, "web-1", fleetv1.CommandKind_COMMAND_KIND_RESTART, nil, fleetv1.CommandState_COMMAND_STATE_SUCCEEDED)
	if n := nodeOf(t, c, "web-1"); n.GetState() != drained || !n.GetDrainRequested() {
		t.Errorf("after restarting a drained node: %s, drain requested %v", n.GetState(), n.GetDrainRequested())
	}
}

// TestNodeNotReadyBeforeItsFirstHealthCheck: an agent supervising a service reported no health
// until its first check had run, and a first failed check still as healthy, so its node turned
// ready, and was routed requests, before the service was known to serve. A service sick from its
// start must keep the node out of ready from its Hello on; it turns ready once a check passes.
func TestNodeNotReadyBeforeItsFirstHealthCheck(t *testing.T) {
	srv := buildHealthsrv(t)
	sick := filepath.Join(t.TempDir(), "sick")
	if err := os.WriteFile(sick, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cp := fleettest.StartControlPlane(t, fleettest.FastConfig(t))
	c := cp.Fleet(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	w, err := c.WatchNodes(ctx, &fleetv1.WatchNodesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Recv(); err != nil { // the initial listing, empty
		t.Fatal(err)
	}
	var mu sync.Mutex
	var states []string
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for {
			ev, err := w.Recv()
			if err != nil {
				return
			}
			if n := ev.GetNode(); n.GetId() == "cold-1" {
				mu.Lock()
				states = append(states, n.GetState().String()+" "+n.GetStateReason())
				mu.Unlock()
			}
		}
	}()
	port := fleettest.FreePortRange(t, 1)
	startAgentWith(t, cp.GRPCAddr(), "cold-1", func(cfg *agent.Config) {
		cfg.ActionsConfig = agent.ActionsConfig{Service: &agent.ServiceConfig{
			Manager: "process", Command: []string{srv, "-sick-file", sick}, BasePort: port, StopGrace: time.Second,
			Health: agent.HealthConfig{URL: "http://127.0.0.1:{port}/healthz", Timeout: 10 * time.Second},
		}}
	})
	fleettest.Eventually(t, 10*time.Second, "cold-1 to report a failed first health check", func() bool {
		resp, err := c.GetNode(context.Background(), &fleetv1.GetNodeRequest{Id: "cold-1"})
		return err == nil && strings.Contains(resp.GetNode().GetLastReport().GetServiceHealth().GetDetail(), "starting: instance 0 fails its health check")
	})
	if st := fleettest.NodeState(c, "cold-1"); st != fleetv1.NodeState_NODE_STATE_UNHEALTHY {
		t.Fatalf("cold-1 is %s after its service failed its first check", st)
	}
	if err := os.Remove(sick); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, "cold-1", ready, 10*time.Second)
	cancel()
	<-watched
	mu.Lock()
	defer mu.Unlock()
	if len(states) == 0 || !strings.HasPrefix(states[0], "NODE_STATE_UNHEALTHY agent connected from") || !strings.Contains(states[0], "service unhealthy: starting: ") {
		t.Fatalf("cold-1's first state %q, want unhealthy from its Hello on", states)
	}
	for _, st := range states[:len(states)-1] {
		if strings.HasPrefix(st, "NODE_STATE_READY") {
			t.Fatalf("cold-1 was ready before its service passed a check: %q", states)
		}
	}
}
