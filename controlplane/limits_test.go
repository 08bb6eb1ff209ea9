package controlplane_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
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

// fakeClock is a control-plane clock the test steps.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// retryDelay returns the RetryInfo delay of a throttled call's status, failing without one.
func retryDelay(t *testing.T, err error) time.Duration {
	t.Helper()
	for _, d := range status.Convert(err).Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			return ri.GetRetryDelay().AsDuration()
		}
	}
	t.Fatalf("no RetryInfo in %v", err)
	return 0
}

// TestAuthFailuresBackOffPerCredential: from one peer address, 50 calls with a bad token are
// answered Unauthenticated for the first 10 and ResourceExhausted with a retry delay after;
// the admin, read-only and agent tokens from the same address are let in at once all along.
// On the control plane's (stepped) clock the bad token's wait doubles with each failure made
// once it may try again. Another bad token from the address waits too (the address guesses);
// the throttling is recorded and counted, and no token is logged.
func TestAuthFailuresBackOffPerCredential(t *testing.T) {
	logs := &lockedBuffer{}
	cfg := tokenConfig(t, logs)
	cfg.AuthFailuresPerMinute = 10
	clock := &fakeClock{now: time.Now()}
	cfg.Now = clock.Now
	cp := fleettest.StartControlPlane(t, cfg)
	wrong, admin, reader := fleetAs(t, cp, wrongTok), fleetAs(t, cp, adminTok), fleetAs(t, cp, readTok)
	agentConn := fleettest.DialToken(t, cp.GRPCAddr(), fleettest.Token(t, agentTok))
	ctx := context.Background()

	for i := range 50 {
		_, err := wrong.ListNodes(ctx, &fleetv1.ListNodesRequest{})
		if i < 10 {
			wantCode(t, err, codes.Unauthenticated, "matches no token")
			continue
		}
		wantCode(t, err, codes.ResourceExhausted, "too many failed authentications")
		wantCode(t, err, codes.ResourceExhausted, "retry in 1s")
		if d := retryDelay(t, err); d != time.Second {
			t.Fatalf("call %d: retry delay %s, want 1s", i+1, d)
		}
	}
	if _, err := admin.ListNodes(ctx, &fleetv1.ListNodesRequest{}); err != nil {
		t.Fatalf("the admin token after 50 bad-token calls from its address: %v", err)
	}
	if _, err := reader.ListNodes(ctx, &fleetv1.ListNodesRequest{}); err != nil {
		t.Fatalf("the read-only token after 50 bad-token calls from its address: %v", err)
	}
	if err := connectAs(t, agentConn, "n1"); err != nil {
		t.Fatalf("the agent token after 50 bad-token calls from its address: %v", err)
	}
	// Another bad token from the guessing address waits as well.
	_, err := fleetAs(t, cp, "other-wrong-token-0123456789").ListNodes(ctx, &fleetv1.ListNodesRequest{})
	wantCode(t, err, codes.ResourceExhausted, "from 127.0.0.1")

	for _, want := range []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second} {
		clock.Add(want / 2)
		_, err := wrong.ListNodes(ctx, &fleetv1.ListNodesRequest{})
		wantCode(t, err, codes.Unauthenticated, "matches no token")
		_, err = wrong.ListNodes(ctx, &fleetv1.ListNodesRequest{})
		if d := retryDelay(t, err); d != want {
			t.Fatalf("after waiting %s and failing again: retry delay %s, want %s", want/2, d, want)
		}
		if _, err := admin.ListNodes(ctx, &fleetv1.ListNodesRequest{}); err != nil {
			t.Fatalf("the admin token while the bad token waits %s: %v", want, err)
		}
	}

	m := scrape(t, cp)
	for _, want := range []string{`dspyfleet_limited_calls_total{limit="auth_failures"}`, `dspyfleet_security_events_total{event="auth_failed"} 13`, `dspyfleet_security_events_total{event="peer_throttled"} 2`} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	waitAudit(t, admin, &fleetv1.AuditRecord{Kind: fleetv1.AuditKind_AUDIT_KIND_SECURITY, Event: fleetv1.SecurityEvent_SECURITY_EVENT_PEER_THROTTLED, Target: "127.0.0.1"})
	var tokenThrottled *fleetv1.AuditRecord
	for _, r := range listAudit(t, admin, &fleetv1.ListAuditRequest{Kinds: []fleetv1.AuditKind{fleetv1.AuditKind_AUDIT_KIND_SECURITY}}) {
		if r.GetEvent() == fleetv1.SecurityEvent_SECURITY_EVENT_PEER_THROTTLED && strings.HasPrefix(r.GetTarget(), "token:") {
			tokenThrottled = r
		}
	}
	if tokenThrottled == nil || !strings.Contains(tokenThrottled.GetDetail(), "10 failed authentications in a row with the bearer token of fingerprint") {
		t.Fatalf("no throttled-token record naming the token's fingerprint: %v", tokenThrottled)
	}
	for _, tok := range []string{agentTok, adminTok, readTok, wrongTok} {
		if strings.Contains(logs.String(), tok) || strings.Contains(tokenThrottled.String(), tok) {
			t.Fatalf("a token was logged or recorded")
		}
	}
}

// TestPermissionDeniedIsNotAFailure: 20 calls a valid read-only token may not make are refused
// with PermissionDenied, never throttled, and count against nothing: the token still reads,
// the first bad token from the address is answered Unauthenticated, and only the first ten
// denials (the allowance of recorded events) are in the audit trail.
func TestPermissionDeniedIsNotAFailure(t *testing.T) {
	cfg := tokenConfig(t, &lockedBuffer{})
	cfg.AuthFailuresPerMinute = 10
	clock := &fakeClock{now: time.Now()}
	cfg.Now = clock.Now
	cp := fleettest.StartControlPlane(t, cfg)
	reader, admin := fleetAs(t, cp, readTok), fleetAs(t, cp, adminTok)
	ctx := context.Background()
	for range 20 {
		_, err := reader.DrainNode(ctx, &fleetv1.DrainNodeRequest{Id: "n1"})
		wantCode(t, err, codes.PermissionDenied, "needs the admin token")
	}
	if _, err := reader.ListNodes(ctx, &fleetv1.ListNodesRequest{}); err != nil {
		t.Fatalf("the read-only token after 20 denied calls: %v", err)
	}
	_, err := fleetAs(t, cp, wrongTok).ListNodes(ctx, &fleetv1.ListNodesRequest{})
	wantCode(t, err, codes.Unauthenticated, "matches no token")
	denied := 0
	for _, r := range listAudit(t, admin, &fleetv1.ListAuditRequest{Kinds: []fleetv1.AuditKind{fleetv1.AuditKind_AUDIT_KIND_SECURITY}}) {
		switch r.GetEvent() {
		case fleetv1.SecurityEvent_SECURITY_EVENT_PERMISSION_DENIED:
			denied++
		case fleetv1.SecurityEvent_SECURITY_EVENT_PEER_THROTTLED:
			t.Fatalf("something was throttled: %v", r)
		}
	}
	if denied != 10 {
		t.Fatalf("%d denials recorded, want the allowance of 10", denied)
	}
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
