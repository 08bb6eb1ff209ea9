package agent

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dspyfleet/dspyfleet/internal/fleettest"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// commandServer is an AgentService on loopback that welcomes every session, sends it the
// commands given, and records the sessions opened and the command updates received.
type commandServer struct {
	fleetv1.UnimplementedAgentServiceServer
	commands []*fleetv1.Command
	sessions atomic.Int32

	mu      sync.Mutex
	updates []*fleetv1.CommandUpdate
}

func (s *commandServer) Connect(stream grpc.BidiStreamingServer[fleetv1.ConnectRequest, fleetv1.ConnectResponse]) error {
	s.sessions.Add(1)
	if _, err := stream.Recv(); err != nil {
		return err
	}
	if err := stream.Send(&fleetv1.ConnectResponse{Msg: &fleetv1.ConnectResponse_Welcome{Welcome: &fleetv1.Welcome{DownAfter: durationpb.New(time.Minute)}}}); err != nil {
		return err
	}
	for _, c := range s.commands {
		if err := stream.Send(&fleetv1.ConnectResponse{Msg: &fleetv1.ConnectResponse_Command{Command: c}}); err != nil {
			return err
		}
	}
	for {
		m, err := stream.Recv()
		if err != nil {
			return err
		}
		if u := m.GetCommandUpdate(); u != nil {
			s.mu.Lock()
			s.updates = append(s.updates, u)
			s.mu.Unlock()
		}
		if r := m.GetReport(); r != nil {
			if err := stream.Send(&fleetv1.ConnectResponse{Msg: &fleetv1.ConnectResponse_Ack{Ack: &fleetv1.ReportAck{Seq: r.GetSeq()}}}); err != nil {
				return err
			}
		}
	}
}

// update returns the last update received for id, nil when none came.
func (s *commandServer) update(id string) *fleetv1.CommandUpdate {
	s.mu.Lock()
	defer s.mu.Unlock()
	var last *fleetv1.CommandUpdate
	for _, u := range s.updates {
		if u.GetId() == id {
			last = u
		}
	}
	return last
}

// TestMalformedCommandKeepsSession: a command with an empty or malformed id is reported failed
// and the session goes on (it used to end it, and the control plane sent the command again on
// every reconnect); a good command after it still runs.
func TestMalformedCommandKeepsSession(t *testing.T) {
	good := "0123456789abcdef0123456789abcdef"
	srv := &commandServer{commands: []*fleetv1.Command{
		{Id: "", Seq: 1, Kind: fleetv1.CommandKind_COMMAND_KIND_UNDRAIN},
		{Id: "../../etc", Seq: 2, Kind: fleetv1.CommandKind_COMMAND_KIND_UNDRAIN},
		{Id: good, Seq: 3, Kind: fleetv1.CommandKind_COMMAND_KIND_UNDRAIN, Deadline: timestamppb.New(time.Now().Add(time.Hour))},
	}}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	fleetv1.RegisterAgentServiceServer(gs, srv)
	go func() { _ = gs.Serve(lis) }()
	t.Cleanup(gs.Stop)

	cfg := DefaultConfig()
	cfg.Server, cfg.NodeID, cfg.StateDir = lis.Addr().String(), "n1", t.TempDir()
	cfg.Interval, cfg.BackoffInitial, cfg.BackoffMax = 100*time.Millisecond, 10*time.Millisecond, 20*time.Millisecond
	cfg.Logger = fleettest.Logger(t)
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("agent Run: %v", err)
		}
	})

	fleettest.Eventually(t, 10*time.Second, "the good command to succeed", func() bool {
		return srv.update(good).GetState() == fleetv1.CommandState_COMMAND_STATE_SUCCEEDED
	})
	for _, id := range []string{"", "../../etc"} {
		u := srv.update(id)
		if u.GetState() != fleetv1.CommandState_COMMAND_STATE_FAILED || !strings.Contains(u.GetDetail(), "malformed command: id") {
			t.Errorf("command %q: update %v, want failed as malformed", id, u)
		}
	}
	if n := srv.sessions.Load(); n != 1 {
		t.Errorf("%d sessions, want 1: a malformed command ended the session", n)
	}
}
