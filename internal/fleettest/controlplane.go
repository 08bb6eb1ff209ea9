package fleettest

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/dspyfleet/dspyfleet/controlplane"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// ControlPlane is a running control plane.
type ControlPlane struct {
	*controlplane.Server
	// Config is the configuration it was started with.
	Config controlplane.Config
	cancel context.CancelFunc
	done   chan error
}

// FastConfig returns a control-plane configuration with short timers for tests, on loopback
// ports chosen by the kernel and a data directory in t.TempDir().
func FastConfig(t testing.TB) controlplane.Config {
	cfg := controlplane.DefaultConfig()
	cfg.GRPCListen = "127.0.0.1:0"
	cfg.HTTPListen = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.TTLGrace = 300 * time.Millisecond
	cfg.FailoverTTL = 2 * time.Second
	cfg.LivenessCheck = 20 * time.Millisecond
	cfg.FlushInterval = 50 * time.Millisecond
	cfg.ReconcileInterval = 50 * time.Millisecond
	cfg.ShutdownTimeout = 2 * time.Second
	cfg.Logger = Logger(t)
	return cfg
}

// Logger returns a logger writing to the test log at debug level.
func Logger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p[:len(p)-1]))
	return len(p), nil
}

// StartControlPlane starts a control plane with cfg and stops it when the test ends.
func StartControlPlane(t testing.TB, cfg controlplane.Config) *ControlPlane {
	t.Helper()
	srv, err := controlplane.New(cfg)
	if err != nil {
		t.Fatalf("start control plane: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cp := &ControlPlane{Server: srv, Config: cfg, cancel: cancel, done: make(chan error, 1)}
	go func() { cp.done <- srv.Run(ctx) }()
	t.Cleanup(func() { cp.Stop(t) })
	return cp
}

// Stop shuts the control plane down and fails the test if Run returned an error. It is safe to
// call more than once.
func (cp *ControlPlane) Stop(t testing.TB) {
	t.Helper()
	cp.cancel()
	if err, ok := <-cp.done; ok {
		close(cp.done)
		if err != nil {
			t.Errorf("control plane Run: %v", err)
		}
	}
}

// Dial returns a client connection to addr, closed when the test ends.
func Dial(t testing.TB, addr string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// Fleet returns a FleetService client for the control plane.
func (cp *ControlPlane) Fleet(t testing.TB) fleetv1.FleetServiceClient {
	return fleetv1.NewFleetServiceClient(Dial(t, cp.GRPCAddr()))
}

// Eventually polls cond every 10ms until it returns true or timeout passes.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Node fetches one node, failing the test on error.
func Node(t testing.TB, c fleetv1.FleetServiceClient, id string) *fleetv1.Node {
	t.Helper()
	resp, err := c.GetNode(context.Background(), &fleetv1.GetNodeRequest{Id: id})
	if err != nil {
		t.Fatalf("GetNode %s: %v", id, err)
	}
	return resp.GetNode()
}

// NodeState returns the node's state, or UNSPECIFIED when it is unknown.
func NodeState(c fleetv1.FleetServiceClient, id string) fleetv1.NodeState {
	resp, err := c.GetNode(context.Background(), &fleetv1.GetNodeRequest{Id: id})
	if err != nil {
		return fleetv1.NodeState_NODE_STATE_UNSPECIFIED
	}
	return resp.GetNode().GetState()
}
