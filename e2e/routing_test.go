package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/dspyfleet/dspyfleet/agent"
	"github.com/dspyfleet/dspyfleet/internal/fleettest"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// startServingAgents runs n agents in pool web, web-1 … web-n, each advertising 127.0.0.1:900i.
func startServingAgents(t *testing.T, server string, n int) {
	t.Helper()
	for i := 1; i <= n; i++ {
		startAgentWith(t, server, fmt.Sprintf("web-%d", i), func(c *agent.Config) {
			c.AdvertiseAddr = fmt.Sprintf("127.0.0.1:%d", 9000+i)
		})
	}
}

// endpointIDs lists a routing set's node ids.
func endpointIDs(r *fleetv1.WatchEndpointsResponse) []string {
	var ids []string
	for _, e := range r.GetEndpoints() {
		ids = append(ids, e.GetNodeId())
	}
	return ids
}

func TestDrainedNodeLeavesEndpointsAndPicks(t *testing.T) {
	cp := fleettest.StartControlPlane(t, fleettest.FastConfig(t))
	fleet := cp.Fleet(t)
	rc := fleetv1.NewRoutingServiceClient(fleettest.Dial(t, cp.GRPCAddr()))
	startServingAgents(t, cp.GRPCAddr(), 3)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	watch, err := rc.WatchEndpoints(ctx, &fleetv1.WatchEndpointsRequest{Pool: "web"})
	if err != nil {
		t.Fatal(err)
	}
	next := func(what string, ok func(*fleetv1.WatchEndpointsResponse) bool) *fleetv1.WatchEndpointsResponse {
		t.Helper()
		for {
			r, err := watch.Recv()
			if err != nil {
				t.Fatalf("waiting for %s: %v", what, err)
			}
			if ok(r) {
				return r
			}
		}
	}
	all := next("all three endpoints", func(r *fleetv1.WatchEndpointsResponse) bool { return len(r.GetEndpoints()) == 3 })
	for _, e := range all.GetEndpoints() {
		if want := "127.0.0.1:900" + strings.TrimPrefix(e.GetNodeId(), "web-"); e.GetAddress() != want {
			t.Errorf("%s address %q, want %q", e.GetNodeId(), e.GetAddress(), want)
		}
	}
	seen := map[string]bool{}
	for range 30 {
		p, err := rc.Pick(ctx, &fleetv1.PickRequest{Pool: "web"})
		if err != nil {
			t.Fatal(err)
		}
		seen[p.GetNodeId()] = true
	}
	if len(seen) != 3 {
		t.Fatalf("round robin over 3 nodes picked %v", seen)
	}

	if _, err := fleet.DrainNode(ctx, &fleetv1.DrainNodeRequest{Id: "web-2", Reason: "test"}); err != nil {
		t.Fatal(err)
	}
	drained := next("web-2 to leave", func(r *fleetv1.WatchEndpointsResponse) bool {
		return !slices.Contains(endpointIDs(r), "web-2")
	})
	if got := endpointIDs(drained); !slices.Equal(got, []string{"web-1", "web-3"}) {
		t.Fatalf("endpoints after drain %v, want web-1 and web-3", got)
	}
	for range 60 {
		p, err := rc.Pick(ctx, &fleetv1.PickRequest{Pool: "web"})
		if err != nil {
			t.Fatal(err)
		}
		if p.GetNodeId() == "web-2" {
			t.Fatal("Pick returned the drained node")
		}
	}
	st, err := rc.GetStatus(ctx, &fleetv1.RoutingServiceGetStatusRequest{Pool: "web"})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range st.GetNodes() {
		if n.GetNodeId() == "web-2" && (n.GetEligible() || !strings.Contains(n.GetReason(), "draining") && !strings.Contains(n.GetReason(), "drained")) {
			t.Errorf("status of the drained node: %+v", n)
		}
	}

	if _, err := fleet.UndrainNode(ctx, &fleetv1.UndrainNodeRequest{Id: "web-2"}); err != nil {
		t.Fatal(err)
	}
	next("web-2 to return", func(r *fleetv1.WatchEndpointsResponse) bool { return slices.Contains(endpointIDs(r), "web-2") })
}

func TestPickUnavailableSaysWhy(t *testing.T) {
	cp := fleettest.StartControlPlane(t, fleettest.FastConfig(t))
	fleet := cp.Fleet(t)
	rc := fleetv1.NewRoutingServiceClient(fleettest.Dial(t, cp.GRPCAddr()))
	startServingAgents(t, cp.GRPCAddr(), 2)
	ctx := context.Background()
	fleettest.Eventually(t, 5*time.Second, "both nodes ready", func() bool {
		return fleettest.NodeState(fleet, "web-1") == fleetv1.NodeState_NODE_STATE_READY &&
			fleettest.NodeState(fleet, "web-2") == fleetv1.NodeState_NODE_STATE_READY
	})
	for _, id := range []string{"web-1", "web-2"} {
		if _, err := fleet.DrainNode(ctx, &fleetv1.DrainNodeRequest{Id: id}); err != nil {
			t.Fatal(err)
		}
	}
	fleettest.Eventually(t, 5*time.Second, "Pick to be refused", func() bool {
		_, err := rc.Pick(ctx, &fleetv1.PickRequest{Pool: "web"})
		return status.Code(err) == codes.Unavailable
	})
	_, err := rc.Pick(ctx, &fleetv1.PickRequest{Pool: "web"})
	if msg := status.Convert(err).Message(); !strings.Contains(msg, "no eligible node: ") || strings.Count(msg, "drain") != 2 && !strings.Contains(msg, "2 drain") {
		t.Errorf("Unavailable message %q does not say the nodes are draining", msg)
	}
}

func TestRoutingPolicyValidatedStoredAndKept(t *testing.T) {
	cfg := fleettest.FastConfig(t)
	cp := fleettest.StartControlPlane(t, cfg)
	rc := fleetv1.NewRoutingServiceClient(fleettest.Dial(t, cp.GRPCAddr()))
	ctx := context.Background()
	ptr := func(v float64) *float64 { return &v }

	bad := []struct {
		name string
		req  *fleetv1.RoutingServiceSetPolicyRequest
		want string
	}{
		{"no pool", &fleetv1.RoutingServiceSetPolicyRequest{Policy: &fleetv1.RoutingPolicy{}}, "pool: is empty"},
		{"bad pool", &fleetv1.RoutingServiceSetPolicyRequest{Pool: "a b", Policy: &fleetv1.RoutingPolicy{}}, "pool:"},
		{"no policy", &fleetv1.RoutingServiceSetPolicyRequest{Pool: "web"}, "policy: is missing"},
		{"unknown strategy", &fleetv1.RoutingServiceSetPolicyRequest{Pool: "web", Policy: &fleetv1.RoutingPolicy{Strategy: 42}}, "policy.strategy"},
		{"epsilon 0", &fleetv1.RoutingServiceSetPolicyRequest{Pool: "web", Policy: &fleetv1.RoutingPolicy{HashLoadFactor: ptr(0)}}, "policy.hash_load_factor"},
		{"threshold above 1", &fleetv1.RoutingServiceSetPolicyRequest{Pool: "web", Policy: &fleetv1.RoutingPolicy{PanicThreshold: ptr(1.5)}}, "policy.panic_threshold"},
		{"error rate below 0", &fleetv1.RoutingServiceSetPolicyRequest{Pool: "web", Policy: &fleetv1.RoutingPolicy{
			OutlierDetection: &fleetv1.OutlierDetection{ErrorRate: ptr(-0.1)}}}, "policy.outlier_detection.error_rate"},
		{"negative weight", &fleetv1.RoutingServiceSetPolicyRequest{Pool: "web", Policy: &fleetv1.RoutingPolicy{
			ScoreWeights: &fleetv1.ScoreWeights{Latency: -1}}}, "policy.score_weights.latency"},
		{"bad duration", &fleetv1.RoutingServiceSetPolicyRequest{Pool: "web", Policy: &fleetv1.RoutingPolicy{
			SlowStartWindow: durationpb.New(-time.Second)}}, "policy.slow_start_window"},
	}
	for _, tt := range bad {
		_, err := rc.SetPolicy(ctx, tt.req)
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(status.Convert(err).Message(), tt.want) {
			t.Errorf("%s: SetPolicy = %v, want InvalidArgument naming %s", tt.name, err, tt.want)
		}
	}
	if _, err := rc.GetPolicy(ctx, &fleetv1.RoutingServiceGetPolicyRequest{Pool: "web"}); status.Code(err) != codes.InvalidArgument ||
		!strings.Contains(status.Convert(err).Message(), `unknown pool "web"`) {
		t.Fatalf("GetPolicy of a pool nothing was stored for = %v, want InvalidArgument unknown pool", err)
	}
	for _, call := range []func() error{
		func() error { _, err := rc.Pick(ctx, &fleetv1.PickRequest{Pool: "nope"}); return err },
		func() error {
			_, err := rc.GetStatus(ctx, &fleetv1.RoutingServiceGetStatusRequest{Pool: "nope"})
			return err
		},
		func() error {
			_, err := rc.ReportResult(ctx, &fleetv1.ReportResultRequest{Token: "garbage", Latency: durationpb.New(time.Millisecond)})
			return err
		},
		func() error {
			_, err := rc.ReportResult(ctx, &fleetv1.ReportResultRequest{Token: "web/web-1/1/0"})
			return err
		},
	} {
		if err := call(); status.Code(err) != codes.InvalidArgument {
			t.Errorf("bad request answered %v, want InvalidArgument", err)
		}
	}

	set, err := rc.SetPolicy(ctx, &fleetv1.RoutingServiceSetPolicyRequest{Pool: "web", Policy: &fleetv1.RoutingPolicy{
		Strategy: fleetv1.Strategy_STRATEGY_LEAST_CONNECTIONS, PanicThreshold: ptr(0.3)}})
	if err != nil {
		t.Fatal(err)
	}
	if set.GetPolicy().GetOutlierDetection().GetConsecutiveErrors() != 5 || set.GetPolicy().GetHashLoadFactor() != 0.25 {
		t.Errorf("stored policy lacks defaults: %v", set.GetPolicy())
	}

	cp.Stop(t)
	cp = fleettest.StartControlPlane(t, cfg)
	rc = fleetv1.NewRoutingServiceClient(fleettest.Dial(t, cp.GRPCAddr()))
	got, err := rc.GetPolicy(ctx, &fleetv1.RoutingServiceGetPolicyRequest{Pool: "web"})
	if err != nil {
		t.Fatal(err)
	}
	if !got.GetConfigured() || got.GetPolicy().GetStrategy() != fleetv1.Strategy_STRATEGY_LEAST_CONNECTIONS || got.GetPolicy().GetPanicThreshold() != 0.3 {
		t.Fatalf("policy after restart: %v", got)
	}
	// A pool with a policy but no nodes yet: Pick says why.
	_, err = rc.Pick(ctx, &fleetv1.PickRequest{Pool: "web"})
	if status.Code(err) != codes.Unavailable || !strings.Contains(status.Convert(err).Message(), "has no nodes") {
		t.Fatalf("Pick on an empty configured pool = %v", err)
	}
}

func TestAdvertisedAddressTakesThePeerHost(t *testing.T) {
	cp := fleettest.StartControlPlane(t, fleettest.FastConfig(t))
	fleet := cp.Fleet(t)
	startAgentWith(t, cp.GRPCAddr(), "wild", func(c *agent.Config) { c.AdvertiseAddr = "0.0.0.0:8123" })
	fleettest.Eventually(t, 5*time.Second, "node address", func() bool {
		return fleettest.NodeState(fleet, "wild") == fleetv1.NodeState_NODE_STATE_READY
	})
	if got := fleettest.Node(t, fleet, "wild").GetAddress(); got != "127.0.0.1:8123" {
		t.Fatalf("address %q, want 127.0.0.1:8123", got)
	}
}

func TestReportResultEjectsAFailingNode(t *testing.T) {
	cp := fleettest.StartControlPlane(t, fleettest.FastConfig(t))
	rc := fleetv1.NewRoutingServiceClient(fleettest.Dial(t, cp.GRPCAddr()))
	ctx := context.Background()
	startServingAgents(t, cp.GRPCAddr(), 3)
	consecutive := uint32(2)
	share := 0.5
	if _, err := rc.SetPolicy(ctx, &fleetv1.RoutingServiceSetPolicyRequest{Pool: "web", Policy: &fleetv1.RoutingPolicy{
		OutlierDetection: &fleetv1.OutlierDetection{ConsecutiveErrors: &consecutive, MaxEjectedShare: &share}}}); err != nil {
		t.Fatal(err)
	}
	fleettest.Eventually(t, 5*time.Second, "three endpoints", func() bool {
		st, err := rc.GetStatus(ctx, &fleetv1.RoutingServiceGetStatusRequest{Pool: "web"})
		return err == nil && st.GetHealthy() == 3
	})
	for failures := 0; failures < 2; {
		p, err := rc.Pick(ctx, &fleetv1.PickRequest{Pool: "web"})
		if err != nil {
			t.Fatal(err)
		}
		ok := p.GetNodeId() != "web-3"
		if !ok {
			failures++
		}
		if _, err := rc.ReportResult(ctx, &fleetv1.ReportResultRequest{Token: p.GetToken(), Latency: durationpb.New(5 * time.Millisecond), Ok: ok}); err != nil {
			t.Fatal(err)
		}
	}
	st, err := rc.GetStatus(ctx, &fleetv1.RoutingServiceGetStatusRequest{Pool: "web"})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range st.GetNodes() {
		if n.GetNodeId() == "web-3" && (!n.GetEjected() || !strings.Contains(n.GetReason(), "2 consecutive errors")) {
			t.Fatalf("web-3 after two failures: %v", n)
		}
	}
	for range 20 {
		p, err := rc.Pick(ctx, &fleetv1.PickRequest{Pool: "web"})
		if err != nil {
			t.Fatal(err)
		}
		if p.GetNodeId() == "web-3" {
			t.Fatal("ejected node picked")
		}
	}
}

// TestRestartedAgentStartsWithACleanLatency: least_latency must not hold a node's old slowness
// against the service a restarted agent brings back (it kept a 5 s average for good).
func TestRestartedAgentStartsWithACleanLatency(t *testing.T) {
	cp := fleettest.StartControlPlane(t, fleettest.FastConfig(t))
	rc := fleetv1.NewRoutingServiceClient(fleettest.Dial(t, cp.GRPCAddr()))
	ctx := context.Background()
	startServingAgents(t, cp.GRPCAddr(), 1)
	slowCfg := func(c *agent.Config) { c.AdvertiseAddr = "127.0.0.1:9002" }
	slow := startAgentWith(t, cp.GRPCAddr(), "web-2", slowCfg)
	if _, err := rc.SetPolicy(ctx, &fleetv1.RoutingServiceSetPolicyRequest{Pool: "web", Policy: &fleetv1.RoutingPolicy{
		Strategy: fleetv1.Strategy_STRATEGY_LEAST_LATENCY, SlowStartWindow: durationpb.New(0)}}); err != nil {
		t.Fatal(err)
	}
	latencyOf := func(id string) time.Duration {
		st, err := rc.GetStatus(ctx, &fleetv1.RoutingServiceGetStatusRequest{Pool: "web"})
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range st.GetNodes() {
			if n.GetNodeId() == id && n.GetEligible() {
				return n.GetLatency().AsDuration()
			}
		}
		return -1
	}
	fleettest.Eventually(t, 5*time.Second, "web-2 in the routing set", func() bool { return latencyOf("web-2") >= 0 })
	// Clients see web-2 answer in 5 s (after that, it loses every comparison).
	slowSeen := 0
	fleettest.Eventually(t, 10*time.Second, "a slow result from web-2", func() bool {
		p, err := rc.Pick(ctx, &fleetv1.PickRequest{Pool: "web"})
		if err != nil {
			return false // a session restarted on a loaded machine: try again
		}
		lat := 5 * time.Millisecond
		if p.GetNodeId() == "web-2" {
			lat = 5 * time.Second
			slowSeen++
		}
		if _, err := rc.ReportResult(ctx, &fleetv1.ReportResultRequest{Token: p.GetToken(), Latency: durationpb.New(lat), Ok: true}); err != nil {
			t.Fatal(err)
		}
		return slowSeen >= 1
	})
	if got := latencyOf("web-2"); got < time.Second {
		t.Fatalf("web-2 shows %s after 5 s results", got)
	}
	// Its agent restarts (a new session): the old results are forgotten.
	slow.stop(t)
	startAgentWith(t, cp.GRPCAddr(), "web-2", slowCfg)
	fleettest.Eventually(t, 10*time.Second, "web-2 back with its results forgotten", func() bool {
		got := latencyOf("web-2")
		return got >= 0 && got < time.Second
	})
	// Back to its share of fast results (a session restarted by a loaded machine's watchdog
	// only delays this).
	var picks map[string]int
	fleettest.Eventually(t, 10*time.Second, "restarted web-2 back to a share of the picks", func() bool {
		picks = map[string]int{}
		for range 50 {
			p, err := rc.Pick(ctx, &fleetv1.PickRequest{Pool: "web"})
			if err != nil {
				return false
			}
			picks[p.GetNodeId()]++
			if _, err := rc.ReportResult(ctx, &fleetv1.ReportResultRequest{Token: p.GetToken(), Latency: durationpb.New(5 * time.Millisecond), Ok: true}); err != nil {
				t.Fatal(err)
			}
		}
		return picks["web-2"] >= 10
	})
}
