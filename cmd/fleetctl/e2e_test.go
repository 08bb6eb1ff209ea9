package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// fleetServer is a FleetService that serves fixed nodes and events and records the requests it
// gets. It stands in for the control plane, which tests of its own run fleetctl against.
type fleetServer struct {
	fleetv1.UnimplementedFleetServiceServer
	nodes  []*fleetv1.Node
	events []*fleetv1.WatchNodesResponse
	// hold keeps a call open after it has sent its answer, until the client leaves.
	hold bool

	mu   sync.Mutex
	reqs []proto.Message
}

func (s *fleetServer) record(req proto.Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqs = append(s.reqs, req)
}

// requests returns the requests received so far.
func (s *fleetServer) requests() []proto.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reqs
}

func (s *fleetServer) ListNodes(ctx context.Context, req *fleetv1.ListNodesRequest) (*fleetv1.ListNodesResponse, error) {
	s.record(req)
	if s.hold {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return &fleetv1.ListNodesResponse{Nodes: s.nodes}, nil
}

func (s *fleetServer) GetNode(_ context.Context, req *fleetv1.GetNodeRequest) (*fleetv1.GetNodeResponse, error) {
	s.record(req)
	for _, n := range s.nodes {
		if n.GetId() == req.GetId() {
			return &fleetv1.GetNodeResponse{Node: n}, nil
		}
	}
	return nil, status.Errorf(codes.NotFound, "node %q not found", req.GetId())
}

func (s *fleetServer) WatchNodes(req *fleetv1.WatchNodesRequest, stream grpc.ServerStreamingServer[fleetv1.WatchNodesResponse]) error {
	s.record(req)
	for _, ev := range s.events {
		if err := stream.Send(ev); err != nil {
			return err
		}
	}
	if s.hold {
		<-stream.Context().Done()
	}
	return nil
}

// startServer serves srv over gRPC on a loopback port until the test ends and returns its address.
func startServer(t *testing.T, srv fleetv1.FleetServiceServer) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	fleetv1.RegisterFleetServiceServer(s, srv)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := s.Serve(lis); err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	t.Cleanup(func() {
		s.Stop()
		<-done
	})
	return lis.Addr().String()
}

// runResult is what one run of fleetctl produced.
type runResult struct {
	code           int
	stdout, stderr string
}

// runCLI runs fleetctl with args to completion.
func runCLI(t *testing.T, args ...string) runResult {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), args, &stdout, &stderr)
	return runResult{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// testEvents are the events the watch tests serve.
func testEvents() []*fleetv1.WatchNodesResponse {
	nodes := fixtureNodes()
	return []*fleetv1.WatchNodesResponse{
		{Type: fleetv1.NodeEventType_NODE_EVENT_TYPE_INITIAL, Node: nodes[0]},
		{Type: fleetv1.NodeEventType_NODE_EVENT_TYPE_STATE_CHANGED, Node: nodes[1], PreviousState: fleetv1.NodeState_NODE_STATE_READY},
	}
}

// wantEventLines match the table lines of testEvents, whatever the time they arrived.
var wantEventLines = []*regexp.Regexp{
	regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)  initial        web-1  ready$`),
	regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)  state_changed  gpu-7  ready->down$`),
}

func TestListEndToEnd(t *testing.T) {
	srv := &fleetServer{nodes: fixtureNodes()}
	addr := startServer(t, srv)
	t.Setenv("DSPYFLEET_ADDR", addr)

	res := runCLI(t, "nodes", "list", "--pool", "default", "--state", "ready,Down", "--label", "zone=eu-west-1a")
	if res.code != exitOK || res.stderr != "" {
		t.Fatalf("exit code %d, stderr %q", res.code, res.stderr)
	}
	lines := strings.Split(strings.TrimSuffix(res.stdout, "\n"), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "ID ") ||
		!strings.HasPrefix(lines[1], "web-1 ") || !strings.HasPrefix(lines[2], "gpu-7 ") {
		t.Errorf("table:\n%s", res.stdout)
	}
	wantReq := &fleetv1.ListNodesRequest{
		Pool:     "default",
		States:   []fleetv1.NodeState{fleetv1.NodeState_NODE_STATE_READY, fleetv1.NodeState_NODE_STATE_DOWN},
		Labels:   map[string]string{"zone": "eu-west-1a"},
		PageSize: listPageSize,
	}
	if reqs := srv.requests(); len(reqs) != 1 || !proto.Equal(reqs[0], wantReq) {
		t.Errorf("server got %v, want %v", reqs, wantReq)
	}

	res = runCLI(t, "nodes", "list", "-o", "json")
	if res.code != exitOK || res.stderr != "" {
		t.Fatalf("exit code %d, stderr %q", res.code, res.stderr)
	}
	got := &fleetv1.ListNodesResponse{}
	if err := protojson.Unmarshal([]byte(res.stdout), got); err != nil {
		t.Fatalf("%v in:\n%s", err, res.stdout)
	}
	if want := (&fleetv1.ListNodesResponse{Nodes: fixtureNodes()}); !proto.Equal(got, want) {
		t.Errorf("json read back as %v, want %v", got, want)
	}
}

func TestGetEndToEnd(t *testing.T) {
	addr := startServer(t, &fleetServer{nodes: fixtureNodes()})

	res := runCLI(t, "--addr", addr, "nodes", "get", "gpu-7")
	if res.code != exitOK || res.stderr != "" {
		t.Fatalf("exit code %d, stderr %q", res.code, res.stderr)
	}
	for _, want := range []string{"ID:              gpu-7\n", "State:           down\n", "Reason:          no report for 30s\n"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, res.stdout)
		}
	}

	res = runCLI(t, "--addr", addr, "nodes", "get", "web-1", "-o", "json")
	if res.code != exitOK || res.stderr != "" {
		t.Fatalf("exit code %d, stderr %q", res.code, res.stderr)
	}
	got := &fleetv1.Node{}
	if err := protojson.Unmarshal([]byte(res.stdout), got); err != nil {
		t.Fatalf("%v in:\n%s", err, res.stdout)
	}
	if want := fixtureNodes()[0]; !proto.Equal(got, want) {
		t.Errorf("json read back as %v, want %v", got, want)
	}

	res = runCLI(t, "--addr", addr, "nodes", "get", "nope")
	if want := (runResult{code: exitNotFound, stderr: "fleetctl: NotFound: node \"nope\" not found\n"}); res != want {
		t.Errorf("got %+v, want %+v", res, want)
	}
}

func TestWatchEndToEnd(t *testing.T) {
	srv := &fleetServer{events: testEvents()}
	addr := startServer(t, srv)

	res := runCLI(t, "--addr", addr, "nodes", "watch", "--pool", "gpu", "--reports")
	if res.code != exitOK || res.stderr != "" {
		t.Fatalf("exit code %d, stderr %q", res.code, res.stderr)
	}
	lines := strings.Split(strings.TrimSuffix(res.stdout, "\n"), "\n")
	if len(lines) != len(wantEventLines) {
		t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(wantEventLines), res.stdout)
	}
	for i, re := range wantEventLines {
		if !re.MatchString(lines[i]) {
			t.Errorf("line %d = %q, want a match for %s", i, lines[i], re)
		}
	}
	wantReq := &fleetv1.WatchNodesRequest{Pool: "gpu", IncludeReports: true}
	if reqs := srv.requests(); len(reqs) != 1 || !proto.Equal(reqs[0], wantReq) {
		t.Errorf("server got %v, want %v", reqs, wantReq)
	}

	res = runCLI(t, "--addr", addr, "-o", "json", "nodes", "watch")
	if res.code != exitOK || res.stderr != "" {
		t.Fatalf("exit code %d, stderr %q", res.code, res.stderr)
	}
	lines = strings.Split(strings.TrimSuffix(res.stdout, "\n"), "\n")
	want := testEvents()
	if len(lines) != len(want) {
		t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(want), res.stdout)
	}
	for i, line := range lines {
		got := &fleetv1.WatchNodesResponse{}
		if err := protojson.Unmarshal([]byte(line), got); err != nil {
			t.Fatalf("line %d: %v in %s", i, err, line)
		}
		if !proto.Equal(got, want[i]) {
			t.Errorf("line %d read back as %v, want %v", i, got, want[i])
		}
	}
}

// TestWatchInterrupt checks that a watch the server keeps open ends cleanly, with exit code 0,
// when its context is cancelled as Ctrl-C does.
func TestWatchInterrupt(t *testing.T) {
	addr := startServer(t, &fleetServer{events: testEvents(), hold: true})

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	pr, pw := io.Pipe()
	var stderr bytes.Buffer
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, []string{"--addr", addr, "nodes", "watch"}, pw, &stderr)
		pw.Close()
	}()

	sc := bufio.NewScanner(pr)
	for i, re := range wantEventLines {
		if !sc.Scan() {
			t.Fatalf("output ended before line %d: %v", i, sc.Err())
		}
		if !re.MatchString(sc.Text()) {
			t.Errorf("line %d = %q, want a match for %s", i, sc.Text(), re)
		}
	}
	cancel()
	for sc.Scan() {
		t.Errorf("unexpected line %q", sc.Text())
	}
	if c := <-code; c != exitOK || stderr.Len() != 0 {
		t.Errorf("exit code %d, stderr %q; want 0 and nothing", c, stderr.String())
	}
}

func TestTimeouts(t *testing.T) {
	addr := startServer(t, &fleetServer{hold: true})
	tests := []struct {
		name string
		args []string
		want string
	}{
		{
			name: "list",
			args: []string{"--addr", addr, "--timeout", "100ms", "nodes", "list"},
			// The cause text depends on whether the client or the server saw the deadline first.
			want: "fleetctl: DeadlineExceeded: ",
		},
		{
			name: "watch without a first event",
			args: []string{"--addr", addr, "--timeout", "100ms", "nodes", "watch"},
			want: "fleetctl: DeadlineExceeded: no event from " + addr + " within 100ms\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			res := runCLI(t, tt.args...)
			if res.code != exitUnavailable || res.stdout != "" || !strings.HasPrefix(res.stderr, tt.want) || !strings.HasSuffix(res.stderr, "\n") {
				t.Errorf("got %+v, want exit code %d and stderr starting %q", res, exitUnavailable, tt.want)
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("took %v for a 100ms timeout", took)
			}
		})
	}
}

func TestUnavailable(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()

	for _, cmd := range [][]string{{"nodes", "list"}, {"nodes", "get", "web-1"}, {"nodes", "watch"}} {
		t.Run(cmd[1], func(t *testing.T) {
			res := runCLI(t, append([]string{"--addr", addr}, cmd...)...)
			if res.code != exitUnavailable || !strings.HasPrefix(res.stderr, "fleetctl: Unavailable: ") || res.stdout != "" {
				t.Errorf("got %+v, want exit code %d and an Unavailable error", res, exitUnavailable)
			}
		})
	}
}
