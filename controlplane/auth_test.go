package controlplane_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/dspyfleet/dspyfleet/controlplane"
	"github.com/dspyfleet/dspyfleet/internal/fleettest"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

const (
	agentTok = "agent-token-0123456789abcdef"
	adminTok = "admin-token-0123456789abcdef"
	readTok  = "read-token-0123456789abcdef"
	wrongTok = "wrong-token-0123456789abcdef"
)

// lockedBuffer is a log sink safe for the server's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// tokenConfig is a fast configuration with the three roles' tokens, logging to logs.
func tokenConfig(t *testing.T, logs *lockedBuffer) controlplane.Config {
	cfg := fleettest.FastConfig(t)
	cfg.AgentToken = fleettest.Token(t, agentTok)
	cfg.AdminToken = fleettest.Token(t, adminTok)
	cfg.ReadToken = fleettest.Token(t, readTok)
	cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return cfg
}

func fleetAs(t *testing.T, cp *fleettest.ControlPlane, tok string) fleetv1.FleetServiceClient {
	return fleetv1.NewFleetServiceClient(fleettest.DialToken(t, cp.GRPCAddr(), fleettest.Token(t, tok)))
}

// connectAs opens an agent session for id with tok and returns the first answer's error.
func connectAs(t *testing.T, conn *grpc.ClientConn, id string) error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	s, err := fleetv1.NewAgentServiceClient(conn).Connect(ctx)
	if err != nil {
		return err
	}
	send(t, s, hello(id, "i-"+id))
	m, err := s.Recv()
	if err == nil && m.GetWelcome() == nil {
		t.Fatalf("want Welcome, got %v", m)
	}
	return err
}

func wantCode(t *testing.T, err error, code codes.Code, msgPart string) {
	t.Helper()
	st := status.Convert(err)
	if st.Code() != code || !strings.Contains(st.Message(), msgPart) {
		t.Fatalf("want %s containing %q, got %s: %s", code, msgPart, st.Code(), st.Message())
	}
}

func TestAuthRoles(t *testing.T) {
	logs := &lockedBuffer{}
	cp := fleettest.StartControlPlane(t, tokenConfig(t, logs))
	ctx := context.Background()

	if err := connectAs(t, fleettest.DialToken(t, cp.GRPCAddr(), fleettest.Token(t, agentTok)), "n1"); err != nil {
		t.Fatalf("agent token Connect: %v", err)
	}

	t.Run("no token", func(t *testing.T) {
		_, err := cp.Fleet(t).ListNodes(ctx, &fleetv1.ListNodesRequest{})
		wantCode(t, err, codes.Unauthenticated, "authorization: Bearer")
		wantCode(t, connectAs(t, fleettest.Dial(t, cp.GRPCAddr()), "n2"), codes.Unauthenticated, "no credential")
	})
	t.Run("wrong token", func(t *testing.T) {
		_, err := fleetAs(t, cp, wrongTok).ListNodes(ctx, &fleetv1.ListNodesRequest{})
		wantCode(t, err, codes.Unauthenticated, "matches no token")
	})
	t.Run("malformed header", func(t *testing.T) {
		md := metadata.Pairs("authorization", "Basic "+adminTok)
		_, err := cp.Fleet(t).ListNodes(metadata.NewOutgoingContext(ctx, md), &fleetv1.ListNodesRequest{})
		wantCode(t, err, codes.Unauthenticated, "Bearer <token>")
	})
	t.Run("read-only reads but cannot drain", func(t *testing.T) {
		c := fleetAs(t, cp, readTok)
		if _, err := c.GetNode(ctx, &fleetv1.GetNodeRequest{Id: "n1"}); err != nil {
			t.Fatalf("read-only GetNode: %v", err)
		}
		_, err := c.DrainNode(ctx, &fleetv1.DrainNodeRequest{Id: "n1"})
		wantCode(t, err, codes.PermissionDenied, "needs the admin token")
		if fleettest.Node(t, fleetAs(t, cp, adminTok), "n1").GetDrainRequested() {
			t.Fatal("a refused drain drained the node")
		}
	})
	t.Run("agent token can only connect", func(t *testing.T) {
		_, err := fleetAs(t, cp, agentTok).ListNodes(ctx, &fleetv1.ListNodesRequest{})
		wantCode(t, err, codes.PermissionDenied, "needs the read-only or admin token")
		wantCode(t, connectAs(t, fleettest.DialToken(t, cp.GRPCAddr(), fleettest.Token(t, adminTok)), "n3"), codes.PermissionDenied, "agent token")
		wantCode(t, connectAs(t, fleettest.DialToken(t, cp.GRPCAddr(), fleettest.Token(t, readTok)), "n3"), codes.PermissionDenied, "agent token")
	})
	t.Run("admin drains", func(t *testing.T) {
		resp, err := fleetAs(t, cp, adminTok).DrainNode(ctx, &fleetv1.DrainNodeRequest{Id: "n1", Reason: "test"})
		if err != nil {
			t.Fatalf("admin DrainNode: %v", err)
		}
		if got := resp.GetCommand().GetCommand().GetRequestedBy(); !strings.HasPrefix(got, "admin@") {
			t.Fatalf("requested_by = %q, want the admin identity", got)
		}
	})
	t.Run("health and reflection are public", func(t *testing.T) {
		resp, err := healthpb.NewHealthClient(fleettest.Dial(t, cp.GRPCAddr())).Check(ctx, &healthpb.HealthCheckRequest{})
		if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("health without a token: %v, %v", resp, err)
		}
	})
	for _, tok := range []string{agentTok, adminTok, readTok, wrongTok} {
		if strings.Contains(logs.String(), tok) {
			t.Errorf("the log holds a token:\n%s", logs.String())
		}
	}
}

func TestTokenConfigErrors(t *testing.T) {
	cfg := fleettest.FastConfig(t)
	cfg.AdminToken = fleettest.Token(t, adminTok)
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "--agent-token-file") {
		t.Fatalf("admin token without agent token: %v", err)
	}
	cfg.AgentToken = fleettest.Token(t, adminTok)
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "same token") {
		t.Fatalf("shared token: %v", err)
	}
	cfg.AgentToken = fleettest.Token(t, agentTok)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
}
