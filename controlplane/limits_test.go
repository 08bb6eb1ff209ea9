package controlplane_test

import (
	"context"
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

// TestAdminRateLimit: an admin token gets its burst, then ResourceExhausted naming the flag, and
// calls again once its bucket refilled; the control plane's clock is stepped, not waited for.
func TestAdminRateLimit(t *testing.T) {
	cfg := tokenConfig(t, &lockedBuffer{})
	cfg.AdminRate, cfg.AdminBurst = 5, 3
	var mu sync.Mutex
	now := time.Now()
	cfg.Now = func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}
	cp := fleettest.StartControlPlane(t, cfg)
	admin, reader := fleetAs(t, cp, adminTok), fleetAs(t, cp, readTok)
	ctx := context.Background()
	for i := range 3 {
		if _, err := admin.ListNodes(ctx, &fleetv1.ListNodesRequest{}); err != nil {
			t.Fatalf("call %d within the burst: %v", i, err)
		}
	}
	_, err := admin.ListNodes(ctx, &fleetv1.ListNodesRequest{})
	wantCode(t, err, codes.ResourceExhausted, "--admin-rate")
	if _, err := reader.ListNodes(ctx, &fleetv1.ListNodesRequest{}); err != nil {
		t.Fatalf("another identity is limited apart: %v", err)
	}
	// Routing's data-plane calls are not held to --admin-rate: one per DSPy request.
	routing := fleetv1.NewRoutingServiceClient(fleettest.DialToken(t, cp.GRPCAddr(), fleettest.Token(t, adminTok)))
	for range 10 {
		_, err := routing.ReportResult(ctx, &fleetv1.ReportResultRequest{Token: "not-a-pick"})
		wantCode(t, err, codes.InvalidArgument, "")
	}
	mu.Lock()
	now = now.Add(250 * time.Millisecond) // 5 a second: one token and a quarter
	mu.Unlock()
	if _, err := admin.ListNodes(ctx, &fleetv1.ListNodesRequest{}); err != nil {
		t.Fatalf("after the bucket refilled: %v", err)
	}
	if m := scrape(t, cp); !strings.Contains(m, `dspyfleet_limited_calls_total{limit="admin_rate"} 1`) {
		t.Errorf("/metrics does not count the limited call:\n%s", m)
	}
}

func TestAgentRateLimit(t *testing.T) {
	cfg := tokenConfig(t, &lockedBuffer{})
	cfg.AgentRate, cfg.AgentBurst = 0.5, 1
	cp := fleettest.StartControlPlane(t, cfg)
	conn := fleettest.DialToken(t, cp.GRPCAddr(), fleettest.Token(t, agentTok))
	if err := connectAs(t, conn, "n1"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, connectAs(t, conn, "n2"), codes.ResourceExhausted, "--agent-rate")
}

// TestAuthFailuresSlowAPeerDown: past its allowance of failed authentications a peer gets
// ResourceExhausted, recorded and counted, and is let in again once the allowance refills.
func TestAuthFailuresSlowAPeerDown(t *testing.T) {
	cfg := tokenConfig(t, &lockedBuffer{})
	cfg.AuthFailuresPerMinute = 60
	cp := fleettest.StartControlPlane(t, cfg)
	wrong, admin := fleetAs(t, cp, wrongTok), fleetAs(t, cp, adminTok)
	ctx := context.Background()
	failures := 0
	for ; ; failures++ {
		_, err := wrong.ListNodes(ctx, &fleetv1.ListNodesRequest{})
		if status.Code(err) == codes.ResourceExhausted {
			wantCode(t, err, codes.ResourceExhausted, "too many failed authentications")
			break
		}
		wantCode(t, err, codes.Unauthenticated, "")
		if failures > 1000 {
			t.Fatal("never throttled")
		}
	}
	if failures < 60 {
		t.Fatalf("throttled after %d failures, the allowance is 60", failures)
	}
	fleettest.Eventually(t, 5*time.Second, "the peer to be let in again", func() bool {
		_, err := admin.ListNodes(ctx, &fleetv1.ListNodesRequest{})
		return err == nil
	})
	m := scrape(t, cp)
	for _, want := range []string{`dspyfleet_limited_calls_total{limit="auth_failures"}`, `dspyfleet_security_events_total{event="auth_failed"}`, `dspyfleet_security_events_total{event="peer_throttled"}`} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	waitAudit(t, admin, &fleetv1.AuditRecord{Kind: fleetv1.AuditKind_AUDIT_KIND_SECURITY, Event: fleetv1.SecurityEvent_SECURITY_EVENT_PEER_THROTTLED, Target: "127.0.0.1"})
}

func TestMaxStreamsPerPeer(t *testing.T) {
	cfg := fleettest.FastConfig(t)
	cfg.MaxStreamsPerPeer = 2
	cp := fleettest.StartControlPlane(t, cfg)
	c := cp.Fleet(t)
	watch := func() (func(), error) {
		ctx, cancel := context.WithCancel(context.Background())
		s, err := c.WatchNodes(ctx, &fleetv1.WatchNodesRequest{})
		if err == nil {
			_, err = s.Recv()
		}
		if err != nil {
			cancel()
		}
		return cancel, err
	}
	stop1, err := watch()
	if err != nil {
		t.Fatal(err)
	}
	stop2, err := watch()
	if err != nil {
		t.Fatal(err)
	}
	defer stop2()
	if _, err := watch(); err == nil {
		t.Fatal("a third stream was allowed")
	} else {
		wantCode(t, err, codes.ResourceExhausted, "--max-streams-per-peer")
	}
	stop1()
	fleettest.Eventually(t, 3*time.Second, "a stream slot to free up", func() bool {
		stop, err := watch()
		if err == nil {
			stop()
		}
		return err == nil
	})
}

func TestNodeAndInputLimits(t *testing.T) {
	cfg := fleettest.FastConfig(t)
	cfg.MaxNodes, cfg.MaxLabels, cfg.MaxLabelValueBytes, cfg.MaxReasonBytes, cfg.MaxCommandParams = 1, 1, 4, 8, 1
	cp := fleettest.StartControlPlane(t, cfg)
	connect(t, cp, "n1", "i-1")

	s := open(t, cp)
	send(t, s, hello("n2", "i-2"))
	wantStatus(t, s, codes.ResourceExhausted, "--max-nodes")

	for name, labels := range map[string]map[string]string{
		"--max-labels":            {"a": "1", "b": "2"},
		"--max-label-value-bytes": {"a": "12345"},
	} {
		s := open(t, cp)
		h := hello("n1", "i-3")
		h.GetHello().Labels = labels
		h.GetHello().ReportInterval = durationpb.New(time.Second)
		send(t, s, h)
		wantStatus(t, s, codes.InvalidArgument, name)
	}

	c := cp.Fleet(t)
	_, err := c.DrainNode(context.Background(), &fleetv1.DrainNodeRequest{Id: "n1", Reason: strings.Repeat("r", 9)})
	wantCode(t, err, codes.InvalidArgument, "--max-reason-bytes")
	_, err = c.SendCommand(context.Background(), &fleetv1.SendCommandRequest{NodeId: "n1", Kind: fleetv1.CommandKind_COMMAND_KIND_DEPLOY,
		Params: map[string]string{"version": "1", "extra": "x"}})
	wantCode(t, err, codes.InvalidArgument, "--max-command-params")
	if fleettest.Node(t, c, "n1").GetDrainRequested() {
		t.Fatal("a refused call drained the node")
	}
}
