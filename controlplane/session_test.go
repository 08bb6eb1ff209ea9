package controlplane_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dspyfleet/dspyfleet/internal/fleettest"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

type agentStream = grpc.BidiStreamingClient[fleetv1.ConnectRequest, fleetv1.ConnectResponse]

// open starts a raw Connect stream to the control plane, ended with the test.
func open(t *testing.T, cp *fleettest.ControlPlane) agentStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	s, err := fleetv1.NewAgentServiceClient(fleettest.Dial(t, cp.GRPCAddr())).Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func hello(id, instance string) *fleetv1.ConnectRequest {
	return &fleetv1.ConnectRequest{Msg: &fleetv1.ConnectRequest_Hello{Hello: &fleetv1.Hello{
		NodeId: id, InstanceId: instance, ReportInterval: durationpb.New(200 * time.Millisecond),
	}}}
}

func report(seq uint64, cpu float64) *fleetv1.ConnectRequest {
	return &fleetv1.ConnectRequest{Msg: &fleetv1.ConnectRequest_Report{Report: &fleetv1.MetricsReport{
		Seq: seq, Time: timestamppb.Now(),
		Host: &fleetv1.HostMetrics{CpuPercent: cpu, MemoryTotalBytes: 1000, MemoryUsedBytes: 500},
	}}}
}

// connect opens a session and waits for the Welcome.
func connect(t *testing.T, cp *fleettest.ControlPlane, id, instance string) agentStream {
	t.Helper()
	s := open(t, cp)
	send(t, s, hello(id, instance))
	m, err := s.Recv()
	if err != nil || m.GetWelcome() == nil {
		t.Fatalf("want Welcome, got %v, %v", m, err)
	}
	return s
}

func send(t *testing.T, s agentStream, m *fleetv1.ConnectRequest) {
	t.Helper()
	if err := s.Send(m); err != nil && !errors.Is(err, io.EOF) {
		t.Fatalf("send: %v", err)
	}
}

// waitAck reads until the acknowledgement of seq arrives.
func waitAck(t *testing.T, s agentStream, seq uint64) {
	t.Helper()
	for {
		m, err := s.Recv()
		if err != nil {
			t.Fatalf("waiting for ack %d: %v", seq, err)
		}
		if m.GetAck().GetSeq() >= seq {
			return
		}
	}
}

// wantStatus reads from the stream until it ends and checks the status code and message.
func wantStatus(t *testing.T, s agentStream, code codes.Code, msgPart string) *status.Status {
	t.Helper()
	for {
		_, err := s.Recv()
		if err == nil {
			continue
		}
		st := status.Convert(err)
		if st.Code() != code || !strings.Contains(st.Message(), msgPart) {
			t.Fatalf("got %s %q, want %s containing %q", st.Code(), st.Message(), code, msgPart)
		}
		return st
	}
}

// assertServing checks the control plane still answers.
func assertServing(t *testing.T, cp *fleettest.ControlPlane) {
	t.Helper()
	if _, err := cp.Fleet(t).ListNodes(context.Background(), &fleetv1.ListNodesRequest{}); err != nil {
		t.Fatalf("control plane stopped serving: %v", err)
	}
}

func TestBadHello(t *testing.T) {
	cp := fleettest.StartControlPlane(t, fleettest.FastConfig(t))
	tests := []struct {
		name string
		msg  *fleetv1.ConnectRequest
		code codes.Code
		want string
	}{
		{"report before hello", report(1, 10), codes.FailedPrecondition, "first message of a session must be a Hello"},
		{"empty message", &fleetv1.ConnectRequest{}, codes.FailedPrecondition, "must be a Hello"},
		{"empty node id", hello("", "i1"), codes.InvalidArgument, "node_id: is empty"},
		{"malformed node id", hello("bad id!", "i1"), codes.InvalidArgument, "node_id"},
		{"no instance id", hello("n1", ""), codes.InvalidArgument, "instance_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t, cp)
			send(t, s, tt.msg)
			wantStatus(t, s, tt.code, tt.want)
		})
	}
	resp, err := cp.Fleet(t).ListNodes(context.Background(), &fleetv1.ListNodesRequest{})
	if err != nil || len(resp.GetNodes()) != 0 {
		t.Fatalf("bad hellos created nodes: %v, %v", resp, err)
	}
}

func TestHelloTimeout(t *testing.T) {
	cfg := fleettest.FastConfig(t)
	cfg.HelloTimeout = 100 * time.Millisecond
	cp := fleettest.StartControlPlane(t, cfg)
	s := open(t, cp)
	wantStatus(t, s, codes.FailedPrecondition, "no Hello")
}

func TestSecondHelloRejected(t *testing.T) {
	cp := fleettest.StartControlPlane(t, fleettest.FastConfig(t))
	s := connect(t, cp, "n1", "i1")
	send(t, s, hello("n1", "i1"))
	wantStatus(t, s, codes.FailedPrecondition, "Hello may only be the first message")
	fleettest.Eventually(t, 2*time.Second, "n1 disconnected", func() bool {
		return fleettest.NodeState(cp.Fleet(t), "n1") == fleetv1.NodeState_NODE_STATE_DISCONNECTED
	})
}

func TestDuplicateNodeID(t *testing.T) {
	cp := fleettest.StartControlPlane(t, fleettest.FastConfig(t))
	first := connect(t, cp, "n1", "instance-a")
	send(t, first, report(1, 10))
	waitAck(t, first, 1)

	// Another agent process claiming the same id while the first is alive is refused.
	other := open(t, cp)
	send(t, other, hello("n1", "instance-b"))
	wantStatus(t, other, codes.AlreadyExists, "is connected from")

	// The first session is untouched.
	send(t, first, report(2, 20))
	waitAck(t, first, 2)

	// The same agent process reconnecting (after a stall) replaces its old session.
	second := connect(t, cp, "n1", "instance-a")
	wantStatus(t, first, codes.Aborted, "replaced by a new session")
	send(t, second, report(3, 30))
	waitAck(t, second, 3)
	n := fleettest.Node(t, cp.Fleet(t), "n1")
	if n.GetState() != fleetv1.NodeState_NODE_STATE_READY || n.GetLastReport().GetSeq() != 3 {
		t.Fatalf("after replacement: state %s, last seq %d", n.GetState(), n.GetLastReport().GetSeq())
	}
}

func TestBadReportRejectedNothingChanged(t *testing.T) {
	cp := fleettest.StartControlPlane(t, fleettest.FastConfig(t))
	s := connect(t, cp, "n1", "i1")
	send(t, s, report(1, 10))
	waitAck(t, s, 1)
	before := fleettest.Node(t, cp.Fleet(t), "n1")

	tests := []struct {
		name  string
		msg   *fleetv1.ConnectRequest
		field string
	}{
		{"NaN", report(2, math.NaN()), "host.cpu_percent"},
		{"infinite", report(2, math.Inf(1)), "host.cpu_percent"},
		{"negative", report(2, -5), "host.cpu_percent"},
		{"over 100", report(2, 250), "host.cpu_percent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := connect(t, cp, "n1", "i1")
			send(t, s, tt.msg)
			st := wantStatus(t, s, codes.InvalidArgument, tt.field)
			var rejected *fleetv1.ReportRejected
			for _, d := range st.Details() {
				if r, ok := d.(*fleetv1.ReportRejected); ok {
					rejected = r
				}
			}
			if rejected.GetSeq() != 2 || len(rejected.GetViolations()) == 0 || rejected.GetViolations()[0].GetField() != tt.field {
				t.Fatalf("ReportRejected detail = %v", rejected)
			}
			after := fleettest.Node(t, cp.Fleet(t), "n1")
			if !proto.Equal(after.GetLastReport(), before.GetLastReport()) || after.GetReportsReceived() != before.GetReportsReceived() {
				t.Fatalf("a rejected report changed the node: before %v, after %v", before.GetLastReport(), after.GetLastReport())
			}
		})
	}
	assertServing(t, cp)
}

func TestOversizedMessage(t *testing.T) {
	cfg := fleettest.FastConfig(t)
	cfg.MaxRecvBytes = 64 << 10
	cp := fleettest.StartControlPlane(t, cfg)
	s := open(t, cp)
	h := hello("n1", "i1")
	h.GetHello().Hostname = strings.Repeat("x", 100<<10)
	send(t, s, h)
	wantStatus(t, s, codes.ResourceExhausted, "larger than max")
	assertServing(t, cp)
}

func TestGetNodeErrors(t *testing.T) {
	cp := fleettest.StartControlPlane(t, fleettest.FastConfig(t))
	c := cp.Fleet(t)
	_, err := c.GetNode(context.Background(), &fleetv1.GetNodeRequest{Id: "missing"})
	if st := status.Convert(err); st.Code() != codes.NotFound || !strings.Contains(st.Message(), "missing") {
		t.Fatalf("GetNode missing: %v", err)
	}
	_, err = c.GetNode(context.Background(), &fleetv1.GetNodeRequest{Id: "bad id"})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("GetNode bad id: %v", err)
	}
	_, err = c.ListNodes(context.Background(), &fleetv1.ListNodesRequest{Pool: "no pool!"})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("ListNodes bad pool: %v", err)
	}
	_, err = c.ListNodes(context.Background(), &fleetv1.ListNodesRequest{States: []fleetv1.NodeState{99}})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("ListNodes bad state: %v", err)
	}
}

// TestShutdownJoinsSessionGoroutines: when Run returns, no goroutine of an agent session is
// left, neither its handler nor its receiver, even for sessions still open at the shutdown.
func TestShutdownJoinsSessionGoroutines(t *testing.T) {
	cp := fleettest.StartControlPlane(t, fleettest.FastConfig(t))
	for i := range 3 {
		s := connect(t, cp, fmt.Sprintf("n%d", i), "i")
		send(t, s, report(1, 10))
		waitAck(t, s, 1)
	}
	cp.Stop(t)
	buf := make([]byte, 1<<20)
	stacks := string(buf[:runtime.Stack(buf, true)])
	if strings.Contains(stacks, "(*agentService).Connect") {
		t.Fatalf("an agent session goroutine outlived Run:\n%s", stacks)
	}
}
