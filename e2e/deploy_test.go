package e2e

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/dspyfleet/dspyfleet/internal/fleettest"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

const (
	rolling   = fleetv1.DeploymentStrategy_DEPLOYMENT_STRATEGY_ROLLING
	canary    = fleetv1.DeploymentStrategy_DEPLOYMENT_STRATEGY_CANARY
	blueGreen = fleetv1.DeploymentStrategy_DEPLOYMENT_STRATEGY_BLUE_GREEN
)

// endpointWatch follows a pool's routing set and records the fewest endpoints it ever had
// after it first had all of them.
type endpointWatch struct {
	mu     sync.Mutex
	least  int
	latest *fleetv1.WatchEndpointsResponse
}

func watchEndpoints(t *testing.T, rc fleetv1.RoutingServiceClient, pool string, all int) *endpointWatch {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stream, err := rc.WatchEndpoints(ctx, &fleetv1.WatchEndpointsRequest{Pool: pool})
	if err != nil {
		t.Fatal(err)
	}
	ew := &endpointWatch{least: -1}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			r, err := stream.Recv()
			if err != nil {
				return
			}
			ew.mu.Lock()
			ew.latest = r
			if n := len(r.GetEndpoints()); ew.least >= 0 && n < ew.least {
				ew.least = n
			} else if ew.least < 0 && n == all {
				ew.least = n
			}
			ew.mu.Unlock()
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	fleettest.Eventually(t, 10*time.Second, "every node in routing", func() bool {
		ew.mu.Lock()
		defer ew.mu.Unlock()
		return ew.least == all
	})
	return ew
}

func (ew *endpointWatch) ids() []string {
	ew.mu.Lock()
	defer ew.mu.Unlock()
	return endpointIDs(ew.latest)
}

func (ew *endpointWatch) fewest() int {
	ew.mu.Lock()
	defer ew.mu.Unlock()
	return ew.least
}

// deployCommands counts each node's deploy commands.
func deployCommands(t *testing.T, fleet fleetv1.FleetServiceClient) map[string]int {
	t.Helper()
	resp, err := fleet.ListCommands(context.Background(), &fleetv1.ListCommandsRequest{Kinds: []fleetv1.CommandKind{fleetv1.CommandKind_COMMAND_KIND_DEPLOY}, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, c := range resp.GetCommands() {
		out[c.GetNodeId()]++
	}
	return out
}

func TestRollingDeployNeverExceedsMaxUnavailable(t *testing.T) {
	cp := fleettest.StartControlPlane(t, deployConfig(t))
	conn := fleettest.Dial(t, cp.GRPCAddr())
	fleet, rc, mc := fleetv1.NewFleetServiceClient(conn), fleetv1.NewRoutingServiceClient(conn), fleetv1.NewMaintenanceServiceClient(conn)
	nodes := startVersionFleet(t, cp.GRPCAddr(), 5, 50*time.Millisecond)
	ew := watchEndpoints(t, rc, "web", 5)
	load := startLoad(t, rc, "web")
	load.waitServed(t, 20)

	batch := uint32(2)
	resp, err := mc.StartDeployment(context.Background(), &fleetv1.StartDeploymentRequest{Spec: &fleetv1.DeploymentSpec{
		Pool: "web", Version: "2.0", Strategy: rolling, BatchSize: &batch, MaxUnavailable: 1}})
	if err != nil {
		t.Fatal(err)
	}
	d := waitDeployment(t, mc, resp.GetDeployment().GetId(), 60*time.Second, "the rollout to finish", finished)
	load.halt()
	if d.GetState() != fleetv1.DeploymentState_DEPLOYMENT_STATE_SUCCEEDED {
		t.Fatalf("deployment ended %v: %s", d.GetState(), d.GetReason())
	}
	for _, n := range nodes {
		if v := n.version(t); v != "2.0" {
			t.Errorf("%s runs %q after the rollout", n.id, v)
		}
	}
	if got := ew.fewest(); got < 4 {
		t.Errorf("at one moment only %d of 5 nodes were in routing; max_unavailable is 1", got)
	}
	if f := load.failures.Load(); f != 0 || load.requests.Load() < 100 {
		t.Errorf("%d requests through Pick during the rollout, %d failed (last: %s)", load.requests.Load(), f, load.lastFailure)
	}
	for id, n := range deployCommands(t, fleet) {
		if n != 1 {
			t.Errorf("%s got %d deploy commands, want 1", id, n)
		}
	}
	fleettest.Eventually(t, 5*time.Second, "every node back in routing", func() bool { return len(ew.ids()) == 5 })
	t.Logf("rolling deploy of 5 nodes: %d requests through Pick, 0 failed, at least %d nodes in routing, took %s",
		load.requests.Load(), ew.fewest(), d.GetFinished().AsTime().Sub(d.GetCreated().AsTime()).Round(time.Millisecond))
}

// canaryFleet starts 4 nodes under weighted round robin without slow start, with load.
func canaryFleet(t *testing.T) (fleetv1.MaintenanceServiceClient, fleetv1.RoutingServiceClient, []*versionNode, *loadClient, *endpointWatch) {
	t.Helper()
	cp := fleettest.StartControlPlane(t, deployConfig(t))
	conn := fleettest.Dial(t, cp.GRPCAddr())
	rc, mc := fleetv1.NewRoutingServiceClient(conn), fleetv1.NewMaintenanceServiceClient(conn)
	nodes := startVersionFleet(t, cp.GRPCAddr(), 4, 0)
	ew := watchEndpoints(t, rc, "web", 4)
	if _, err := rc.SetPolicy(context.Background(), &fleetv1.RoutingServiceSetPolicyRequest{Pool: "web", Policy: &fleetv1.RoutingPolicy{
		Strategy: fleetv1.Strategy_STRATEGY_WEIGHTED_ROUND_ROBIN, SlowStartWindow: durationpb.New(0),
		OutlierDetection: &fleetv1.OutlierDetection{ConsecutiveErrors: ptrU32(0), ErrorRate: ptrF(0), LatencyFactor: ptrF(0)}}}); err != nil {
		t.Fatal(err)
	}
	return mc, rc, nodes, startLoad(t, rc, "web"), ew
}

func ptrU32(v uint32) *uint32 { return &v }

func ptrF(v float64) *float64 { return &v }

func TestCanaryBadVersionRollsBackWithinWindow(t *testing.T) {
	mc, _, nodes, load, ew := canaryFleet(t)
	window := 20 * time.Second
	resp, err := mc.StartDeployment(context.Background(), &fleetv1.StartDeploymentRequest{Spec: &fleetv1.DeploymentSpec{
		Pool: "web", Version: "bad-2.0", Strategy: canary, CanaryNodes: 1, CanaryPercent: []float64{25},
		AnalysisWindow: durationpb.New(window), MinRequests: ptrU32(20), PreviousVersion: "1.0"}})
	if err != nil {
		t.Fatal(err)
	}
	d := waitDeployment(t, mc, resp.GetDeployment().GetId(), 40*time.Second, "the canary to be judged", finished)
	load.halt()
	if d.GetState() != fleetv1.DeploymentState_DEPLOYMENT_STATE_ROLLED_BACK || !strings.Contains(d.GetReason(), "error rate") {
		t.Fatalf("deployment ended %v: %s", d.GetState(), d.GetReason())
	}
	a := d.GetAnalyses()[0]
	// The baseline may have no requests yet when the canary's errors already decide: a canary
	// failing most of its min_requests is rolled back without waiting for the baseline's report.
	if a.GetPassed() || a.GetCanaryErrors() == 0 || a.GetCanaryRequests() < 20 {
		t.Fatalf("analysis %v", a)
	}
	if took := a.GetEnd().AsTime().Sub(a.GetStart().AsTime()); took >= window {
		t.Fatalf("rollback decided after %s, not within the %s window", took, window)
	}
	for _, n := range nodes {
		if v := n.version(t); v != "1.0" {
			t.Errorf("%s runs %q after the rollback", n.id, v)
		}
	}
	fleettest.Eventually(t, 5*time.Second, "the rolled-back canary back in routing", func() bool { return len(ew.ids()) == 4 })
	t.Logf("bad canary rolled back after %s: %s", a.GetEnd().AsTime().Sub(a.GetStart().AsTime()).Round(time.Millisecond), a.GetReason())
}

func TestCanaryGoodVersionPromoted(t *testing.T) {
	mc, _, nodes, load, ew := canaryFleet(t)
	resp, err := mc.StartDeployment(context.Background(), &fleetv1.StartDeploymentRequest{Spec: &fleetv1.DeploymentSpec{
		Pool: "web", Version: "2.0", Strategy: canary, CanaryNodes: 1, CanaryPercent: []float64{25, 50},
		// Loopback latencies of a few milliseconds on a loaded machine swing by several times;
		// the latency verdict is covered by pkg/maintenance's tests.
		AnalysisWindow: durationpb.New(1500 * time.Millisecond), MinRequests: ptrU32(10), MaxP95Ratio: ptrF(50)}})
	if err != nil {
		t.Fatal(err)
	}
	id := resp.GetDeployment().GetId()
	// At the 50 % step the canary weighs as much as the three other nodes together.
	waitDeployment(t, mc, id, 30*time.Second, "the second canary step", func(d *fleetv1.Deployment) bool { return d.GetStep() == 2 })
	fleettest.Eventually(t, 5*time.Second, "the canary's weight at 50 %", func() bool {
		ew.mu.Lock()
		defer ew.mu.Unlock()
		for _, e := range ew.latest.GetEndpoints() {
			if e.GetNodeId() == "web-1" {
				return e.GetWeight() == 3
			}
		}
		return false
	})
	d := waitDeployment(t, mc, id, 60*time.Second, "the promotion", finished)
	load.halt()
	if d.GetState() != fleetv1.DeploymentState_DEPLOYMENT_STATE_SUCCEEDED || len(d.GetAnalyses()) != 2 {
		t.Fatalf("deployment ended %v: %s; analyses %v", d.GetState(), d.GetReason(), d.GetAnalyses())
	}
	for _, a := range d.GetAnalyses() {
		if !a.GetPassed() {
			t.Errorf("analysis %v did not pass", a)
		}
	}
	for _, n := range nodes {
		if v := n.version(t); v != "2.0" {
			t.Errorf("%s runs %q after the promotion", n.id, v)
		}
	}
	if f := load.failures.Load(); f != 0 {
		t.Errorf("%d of %d requests failed (last: %s)", f, load.requests.Load(), load.lastFailure)
	}
}

func TestBlueGreenSwitchAndRollback(t *testing.T) {
	cp := fleettest.StartControlPlane(t, deployConfig(t))
	conn := fleettest.Dial(t, cp.GRPCAddr())
	fleet, rc, mc := fleetv1.NewFleetServiceClient(conn), fleetv1.NewRoutingServiceClient(conn), fleetv1.NewMaintenanceServiceClient(conn)
	nodes := startVersionFleet(t, cp.GRPCAddr(), 4, 0)
	ew := watchEndpoints(t, rc, "web", 4)
	ctx := context.Background()
	for _, id := range []string{"web-3", "web-4"} {
		if _, err := fleet.DrainNode(ctx, &fleetv1.DrainNodeRequest{Id: id}); err != nil {
			t.Fatal(err)
		}
		waitState(t, fleet, id, fleetv1.NodeState_NODE_STATE_DRAINED, 10*time.Second)
	}
	load := startLoad(t, rc, "web")

	resp, err := mc.StartDeployment(ctx, &fleetv1.StartDeploymentRequest{Spec: &fleetv1.DeploymentSpec{
		Pool: "web", Version: "2.0", Strategy: blueGreen, KeepOld: durationpb.New(time.Minute)}})
	if err != nil {
		t.Fatal(err)
	}
	id := resp.GetDeployment().GetId()
	waitDeployment(t, mc, id, 30*time.Second, "the switch", func(d *fleetv1.Deployment) bool { return d.GetPhase() == "switched" })
	fleettest.Eventually(t, 5*time.Second, "routing on the green set", func() bool { return slices.Equal(ew.ids(), []string{"web-3", "web-4"}) })
	if nodes[0].version(t) != "1.0" || nodes[2].version(t) != "2.0" || nodes[3].version(t) != "2.0" {
		t.Fatalf("versions after the switch: %s %s %s %s", nodes[0].version(t), nodes[1].version(t), nodes[2].version(t), nodes[3].version(t))
	}

	// Instant rollback: routing goes back to the old set in one step; the green set is drained.
	ab, err := mc.AbortDeployment(ctx, &fleetv1.AbortDeploymentRequest{Id: id, Reason: "latency regression"})
	if err != nil {
		t.Fatal(err)
	}
	if ab.GetDeployment().GetState() != fleetv1.DeploymentState_DEPLOYMENT_STATE_ROLLED_BACK {
		t.Fatalf("abort during the keep period: %v", ab.GetDeployment().GetState())
	}
	fleettest.Eventually(t, 5*time.Second, "routing back on the old set", func() bool { return slices.Equal(ew.ids(), []string{"web-1", "web-2"}) })
	waitDeployment(t, mc, id, 30*time.Second, "the green set drained", finished)
	for _, id := range []string{"web-3", "web-4"} {
		waitState(t, fleet, id, fleetv1.NodeState_NODE_STATE_DRAINED, 10*time.Second)
	}

	// Again, kept for a short while: the old set is drained at the end.
	resp, err = mc.StartDeployment(ctx, &fleetv1.StartDeploymentRequest{Spec: &fleetv1.DeploymentSpec{
		Pool: "web", Version: "3.0", Strategy: blueGreen, KeepOld: durationpb.New(300 * time.Millisecond)}})
	if err != nil {
		t.Fatal(err)
	}
	d := waitDeployment(t, mc, resp.GetDeployment().GetId(), 30*time.Second, "the second blue-green deployment", finished)
	load.halt()
	if d.GetState() != fleetv1.DeploymentState_DEPLOYMENT_STATE_SUCCEEDED {
		t.Fatalf("second deployment ended %v: %s", d.GetState(), d.GetReason())
	}
	for _, id := range []string{"web-1", "web-2"} {
		waitState(t, fleet, id, fleetv1.NodeState_NODE_STATE_DRAINED, 10*time.Second)
	}
	if !slices.Equal(ew.ids(), []string{"web-3", "web-4"}) || nodes[2].version(t) != "3.0" {
		t.Fatalf("after the second deployment routing has %v, web-3 runs %s", ew.ids(), nodes[2].version(t))
	}
	if f := load.failures.Load(); f != 0 {
		t.Errorf("%d of %d requests failed across two switches and a rollback (last: %s)", f, load.requests.Load(), load.lastFailure)
	}
}

func TestDeploymentResumesAfterRestart(t *testing.T) {
	cfg := deployConfig(t)
	cp := fleettest.StartControlPlane(t, cfg)
	mc := fleetv1.NewMaintenanceServiceClient(fleettest.Dial(t, cp.GRPCAddr()))
	nodes := startVersionFleet(t, cp.GRPCAddr(), 3, 400*time.Millisecond)
	fleet := cp.Fleet(t)
	for _, n := range nodes {
		waitState(t, fleet, n.id, ready, 10*time.Second)
	}
	resp, err := mc.StartDeployment(context.Background(), &fleetv1.StartDeploymentRequest{Spec: &fleetv1.DeploymentSpec{Pool: "web", Version: "2.0", Strategy: rolling}})
	if err != nil {
		t.Fatal(err)
	}
	id := resp.GetDeployment().GetId()
	mid := waitDeployment(t, mc, id, 30*time.Second, "the second node deploying", func(d *fleetv1.Deployment) bool {
		return d.GetNodes()[0].GetPhase() == "done" && d.GetNodes()[1].GetPhase() == "deploying"
	})
	cp.Stop(t)

	cfg2 := deployConfig(t)
	cfg2.DataDir, cfg2.GRPCListen = cfg.DataDir, cp.GRPCAddr()
	cp2 := fleettest.StartControlPlane(t, cfg2)
	conn2 := fleettest.Dial(t, cp2.GRPCAddr())
	mc2 := fleetv1.NewMaintenanceServiceClient(conn2)
	d := waitDeployment(t, mc2, id, 60*time.Second, "the rollout to finish after the restart", finished)
	if d.GetState() != fleetv1.DeploymentState_DEPLOYMENT_STATE_SUCCEEDED {
		t.Fatalf("deployment ended %v: %s", d.GetState(), d.GetReason())
	}
	if !d.GetNodes()[0].GetUpdated().AsTime().Equal(mid.GetNodes()[0].GetUpdated().AsTime()) {
		t.Error("the node done before the restart was touched again")
	}
	for id, n := range deployCommands(t, fleetv1.NewFleetServiceClient(conn2)) {
		if n != 1 {
			t.Errorf("%s got %d deploy commands, want 1: the restart must resume, not redo", id, n)
		}
	}
	for _, n := range nodes {
		if v := n.version(t); v != "2.0" {
			t.Errorf("%s runs %q", n.id, v)
		}
	}
}

func TestDeploymentBadInputAndSecondDeployment(t *testing.T) {
	cp := fleettest.StartControlPlane(t, deployConfig(t))
	mc := fleetv1.NewMaintenanceServiceClient(fleettest.Dial(t, cp.GRPCAddr()))
	nodes := startVersionFleet(t, cp.GRPCAddr(), 2, 2*time.Second)
	for _, n := range nodes {
		waitState(t, cp.Fleet(t), n.id, ready, 10*time.Second)
	}
	ctx := context.Background()
	zero := uint32(0)
	bad := []struct {
		name string
		spec *fleetv1.DeploymentSpec
		want string
	}{
		{"no spec", nil, "spec: is missing"},
		{"empty pool", &fleetv1.DeploymentSpec{Version: "2.0", Strategy: rolling}, "spec.pool: is empty"},
		{"unknown pool", &fleetv1.DeploymentSpec{Pool: "gpu", Version: "2.0", Strategy: rolling}, `spec.pool: pool "gpu" has no nodes`},
		{"batch 0", &fleetv1.DeploymentSpec{Pool: "web", Version: "2.0", Strategy: rolling, BatchSize: &zero}, "spec.batch_size"},
		{"canary step above 100", &fleetv1.DeploymentSpec{Pool: "web", Version: "2.0", Strategy: canary, CanaryPercent: []float64{150}}, "spec.canary_percent[0]"},
		{"no strategy", &fleetv1.DeploymentSpec{Pool: "web", Version: "2.0"}, "spec.strategy"},
		{"shell in version", &fleetv1.DeploymentSpec{Pool: "web", Version: "2.0; rm -rf /", Strategy: rolling}, "spec.version"},
	}
	for _, tt := range bad {
		_, err := mc.StartDeployment(ctx, &fleetv1.StartDeploymentRequest{Spec: tt.spec})
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(status.Convert(err).Message(), tt.want) {
			t.Errorf("%s: StartDeployment = %v, want InvalidArgument naming %s", tt.name, err, tt.want)
		}
	}
	if list, err := mc.ListDeployments(ctx, &fleetv1.ListDeploymentsRequest{}); err != nil || len(list.GetDeployments()) != 0 {
		t.Fatalf("bad requests stored deployments: %v %v", list, err)
	}

	first, err := mc.StartDeployment(ctx, &fleetv1.StartDeploymentRequest{Spec: &fleetv1.DeploymentSpec{Pool: "web", Version: "2.0", Strategy: rolling}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = mc.StartDeployment(ctx, &fleetv1.StartDeploymentRequest{Spec: &fleetv1.DeploymentSpec{Pool: "web", Version: "3.0", Strategy: rolling}})
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(status.Convert(err).Message(), first.GetDeployment().GetId()) {
		t.Fatalf("second deployment to the pool = %v, want FailedPrecondition naming the first", err)
	}
	mresp, err := http.Get("http://" + cp.HTTPAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	scrape, _ := io.ReadAll(mresp.Body)
	mresp.Body.Close()
	if !strings.Contains(string(scrape), `dspyfleet_deployments_in_progress{pool="web"} 1`) {
		t.Errorf("/metrics lacks the deployment in progress:\n%s", scrape)
	}

	// A window over the pool waits for the deployment rather than fight it.
	win, err := mc.ScheduleMaintenance(ctx, &fleetv1.ScheduleMaintenanceRequest{Spec: &fleetv1.MaintenanceSpec{Pool: "web",
		Tasks: []*fleetv1.MaintenanceTask{{Kind: fleetv1.MaintenanceTaskKind_MAINTENANCE_TASK_KIND_RESTART}}}})
	if err != nil {
		t.Fatal(err)
	}
	waitWindow(t, mc, win.GetMaintenance().GetId(), 5*time.Second, "the window to wait for the deployment", func(m *fleetv1.Maintenance) bool {
		return strings.HasPrefix(m.GetPhase(), "waiting: deployment "+first.GetDeployment().GetId())
	})
	if _, err := mc.CancelMaintenance(ctx, &fleetv1.CancelMaintenanceRequest{Id: win.GetMaintenance().GetId()}); err != nil {
		t.Fatal(err)
	}
	if _, err := mc.PauseDeployment(ctx, &fleetv1.PauseDeploymentRequest{Id: first.GetDeployment().GetId()}); err != nil {
		t.Fatal(err)
	}
	if _, err := mc.GetDeployment(ctx, &fleetv1.GetDeploymentRequest{Id: "nope"}); status.Code(err) != codes.NotFound {
		t.Fatalf("GetDeployment of an unknown id = %v", err)
	}
	ab, err := mc.AbortDeployment(ctx, &fleetv1.AbortDeploymentRequest{Id: first.GetDeployment().GetId(), Reason: "test"})
	if err != nil || ab.GetDeployment().GetState() != fleetv1.DeploymentState_DEPLOYMENT_STATE_ABORTED {
		t.Fatalf("abort: %v %v", ab, err)
	}
	d := waitDeployment(t, mc, first.GetDeployment().GetId(), 30*time.Second, "the abort to finish", finished)
	for _, n := range nodes {
		waitState(t, cp.Fleet(t), n.id, ready, 10*time.Second)
	}
	if _, err := mc.AbortDeployment(ctx, &fleetv1.AbortDeploymentRequest{Id: d.GetId()}); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("abort of a finished deployment = %v, want FailedPrecondition", err)
	}
}

// TestRollingDeployLeavesDrainedNodesDrainedAndSkipsDownOnes: an operator's drain survives a
// deployment, and a node that is gone is reported, not waited for.
func TestRollingDeployLeavesDrainedNodesDrainedAndSkipsDownOnes(t *testing.T) {
	cp := fleettest.StartControlPlane(t, deployConfig(t))
	conn := fleettest.Dial(t, cp.GRPCAddr())
	fleet, mc := fleetv1.NewFleetServiceClient(conn), fleetv1.NewMaintenanceServiceClient(conn)
	nodes := startVersionFleet(t, cp.GRPCAddr(), 3, 0)
	ctx := context.Background()
	for _, n := range nodes {
		waitState(t, fleet, n.id, ready, 10*time.Second)
	}
	if _, err := fleet.DrainNode(ctx, &fleetv1.DrainNodeRequest{Id: "web-3", Reason: "bad disk"}); err != nil {
		t.Fatal(err)
	}
	waitState(t, fleet, "web-3", fleetv1.NodeState_NODE_STATE_DRAINED, 10*time.Second)
	nodes[1].agent.stop(t)
	fleettest.Eventually(t, 10*time.Second, "web-2 gone", func() bool {
		st := fleettest.NodeState(fleet, "web-2")
		return st != ready && st != fleetv1.NodeState_NODE_STATE_UNSPECIFIED
	})

	// Two of three nodes are out of routing: max_unavailable 2 holds the rollout back.
	two := uint32(2)
	resp, err := mc.StartDeployment(ctx, &fleetv1.StartDeploymentRequest{Spec: &fleetv1.DeploymentSpec{Pool: "web", Version: "2.0", Strategy: rolling, MaxUnavailable: two}})
	if err != nil {
		t.Fatal(err)
	}
	id := resp.GetDeployment().GetId()
	waitDeployment(t, mc, id, 10*time.Second, "the rollout to wait", func(d *fleetv1.Deployment) bool {
		return strings.Contains(d.GetReason(), "waiting: 2 nodes of the pool are out of routing and max_unavailable is 2")
	})
	if _, err := mc.AbortDeployment(ctx, &fleetv1.AbortDeploymentRequest{Id: id}); err != nil {
		t.Fatal(err)
	}
	waitDeployment(t, mc, id, 10*time.Second, "the abort", finished)
	resp, err = mc.StartDeployment(ctx, &fleetv1.StartDeploymentRequest{Spec: &fleetv1.DeploymentSpec{Pool: "web", Version: "2.0", Strategy: rolling, MaxUnavailable: 3}})
	if err != nil {
		t.Fatal(err)
	}
	d := waitDeployment(t, mc, resp.GetDeployment().GetId(), 30*time.Second, "the rollout", finished)
	if d.GetState() != fleetv1.DeploymentState_DEPLOYMENT_STATE_FAILED || !strings.Contains(d.GetReason(), "1 nodes were down or disconnected and were skipped") {
		t.Fatalf("deployment ended %v: %s", d.GetState(), d.GetReason())
	}
	phases := map[string]string{}
	for _, n := range d.GetNodes() {
		phases[n.GetNodeId()] = n.GetPhase()
	}
	if phases["web-1"] != "done" || phases["web-2"] != "skipped" || phases["web-3"] != "done" {
		t.Fatalf("node phases %v", phases)
	}
	if nodes[2].version(t) != "2.0" || nodes[1].version(t) != "1.0" {
		t.Fatalf("versions: web-2 %s, web-3 %s", nodes[1].version(t), nodes[2].version(t))
	}
	if st := fleettest.NodeState(fleet, "web-3"); st != fleetv1.NodeState_NODE_STATE_DRAINED {
		t.Fatalf("the operator's drained node is %v after the deployment", st)
	}
}

func TestCanaryResumesAnalysisAfterRestart(t *testing.T) {
	cfg := deployConfig(t)
	cp := fleettest.StartControlPlane(t, cfg)
	conn := fleettest.Dial(t, cp.GRPCAddr())
	rc, mc := fleetv1.NewRoutingServiceClient(conn), fleetv1.NewMaintenanceServiceClient(conn)
	nodes := startVersionFleet(t, cp.GRPCAddr(), 3, 0)
	watchEndpoints(t, rc, "web", 3)
	resp, err := mc.StartDeployment(context.Background(), &fleetv1.StartDeploymentRequest{Spec: &fleetv1.DeploymentSpec{
		Pool: "web", Version: "2.0", Strategy: canary, AnalysisWindow: durationpb.New(time.Second), MinRequests: ptrU32(0), MaxP95Ratio: ptrF(50)}})
	if err != nil {
		t.Fatal(err)
	}
	id := resp.GetDeployment().GetId()
	waitDeployment(t, mc, id, 30*time.Second, "the analysis", func(d *fleetv1.Deployment) bool { return d.GetPhase() == "analysing canary" })
	cp.Stop(t)

	cfg2 := deployConfig(t)
	cfg2.DataDir, cfg2.GRPCListen = cfg.DataDir, cp.GRPCAddr()
	cp2 := fleettest.StartControlPlane(t, cfg2)
	mc2 := fleetv1.NewMaintenanceServiceClient(fleettest.Dial(t, cp2.GRPCAddr()))
	d := waitDeployment(t, mc2, id, 30*time.Second, "the promotion after the restart", finished)
	if d.GetState() != fleetv1.DeploymentState_DEPLOYMENT_STATE_SUCCEEDED {
		t.Fatalf("deployment ended %v: %s", d.GetState(), d.GetReason())
	}
	for _, n := range nodes {
		if v := n.version(t); v != "2.0" {
			t.Errorf("%s runs %q", n.id, v)
		}
	}
}
