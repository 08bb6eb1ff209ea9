package main

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// commandServer is a FleetService without WatchCommands whose one command moves one state
// further on each GetCommand, so that a wait has to fall back to polling.
type commandServer struct {
	fleetv1.UnimplementedFleetServiceServer
	states []fleetv1.CommandState // the states after pending
	detail string                 // of the last state
	fields map[string]string      // of the last state

	mu   sync.Mutex
	gets int
}

// record returns the command after its first n+1 states.
func (s *commandServer) record(n int) *fleetv1.CommandRecord {
	r := &fleetv1.CommandRecord{
		Command: &fleetv1.Command{Id: "c1", Kind: fleetv1.CommandKind_COMMAND_KIND_DEPLOY, Params: map[string]string{"version": "9"}},
		NodeId:  "web-1", State: fleetv1.CommandState_COMMAND_STATE_PENDING, Detail: "queued",
		History: []*fleetv1.CommandTransition{{State: fleetv1.CommandState_COMMAND_STATE_PENDING, Time: timestamppb.Now(), Detail: "queued"}},
	}
	for i, st := range s.states[:min(n, len(s.states))] {
		r.State, r.Detail = st, commandStateName(st)
		if i == len(s.states)-1 {
			r.Detail, r.Fields = s.detail, s.fields
		}
		r.History = append(r.History, &fleetv1.CommandTransition{State: st, Time: timestamppb.Now(), Detail: r.Detail})
	}
	return r
}

func (s *commandServer) SendCommand(context.Context, *fleetv1.SendCommandRequest) (*fleetv1.SendCommandResponse, error) {
	return &fleetv1.SendCommandResponse{Command: s.record(0)}, nil
}

func (s *commandServer) GetCommand(context.Context, *fleetv1.GetCommandRequest) (*fleetv1.GetCommandResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gets++
	return &fleetv1.GetCommandResponse{Command: s.record(s.gets)}, nil
}

// fastPoll makes waits poll every 5ms for the test.
func fastPoll(t *testing.T) {
	old := waitPoll
	waitPoll = 5 * time.Millisecond
	t.Cleanup(func() { waitPoll = old })
}

// toRunning are the states of a command up to running.
var toRunning = []fleetv1.CommandState{
	fleetv1.CommandState_COMMAND_STATE_SENT, fleetv1.CommandState_COMMAND_STATE_ACCEPTED, fleetv1.CommandState_COMMAND_STATE_RUNNING,
}

func TestWaitByPolling(t *testing.T) {
	fastPoll(t)
	addr := startServer(t, &commandServer{
		states: append(slices.Clone(toRunning), fleetv1.CommandState_COMMAND_STATE_SUCCEEDED),
		detail: "now running 9", fields: map[string]string{"version": "9"},
	})
	res := runCLI(t, "--addr", addr, "cmd", "send", "web-1", "deploy", "--version", "9", "--wait")
	if res.code != exitOK || res.stderr != "" {
		t.Fatalf("got %+v", res)
	}
	lines := strings.Split(strings.TrimSuffix(res.stdout, "\n"), "\n")
	want := []string{"Command c1: deploy on web-1, pending (queued)", "sent", "accepted", "running", "succeeded", "Succeeded: now running 9", "  version=9"}
	if len(lines) != len(want) {
		t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(want), res.stdout)
	}
	for i, w := range want {
		if i >= 1 && i <= 4 {
			// A transition: time, state, detail.
			if f := strings.Fields(lines[i]); len(f) < 2 || f[1] != w {
				t.Errorf("line %d = %q, want state %s", i, lines[i], w)
			}
			continue
		}
		if lines[i] != w {
			t.Errorf("line %d = %q, want %q", i, lines[i], w)
		}
	}
}

func TestWaitFailed(t *testing.T) {
	fastPoll(t)
	addr := startServer(t, &commandServer{states: append(slices.Clone(toRunning), fleetv1.CommandState_COMMAND_STATE_FAILED), detail: "image 9 not found"})
	res := runCLI(t, "--addr", addr, "cmd", "send", "web-1", "deploy", "--version", "9", "--wait")
	if res.code != exitError || res.stderr != "fleetctl: command c1 (deploy on web-1) failed: image 9 not found\n" ||
		!strings.HasSuffix(res.stdout, "\nFailed: image 9 not found\n") {
		t.Fatalf("got %+v", res)
	}
}

// TestWaitJSON checks that -o json --wait prints the finished command only.
func TestWaitJSON(t *testing.T) {
	fastPoll(t)
	addr := startServer(t, &commandServer{states: []fleetv1.CommandState{fleetv1.CommandState_COMMAND_STATE_EXPIRED}, detail: "deadline passed"})
	res := runCLI(t, "--addr", addr, "-o", "json", "cmd", "send", "web-1", "deploy", "--version", "9", "--wait")
	if res.code != exitError || !strings.Contains(res.stderr, "expired: deadline passed") {
		t.Fatalf("got %+v", res)
	}
	var rec fleetv1.CommandRecord
	if err := protojson.Unmarshal([]byte(res.stdout), &rec); err != nil {
		t.Fatalf("%v in:\n%s", err, res.stdout)
	}
	if rec.GetState() != fleetv1.CommandState_COMMAND_STATE_EXPIRED || len(rec.GetHistory()) != 2 {
		t.Errorf("printed %v", &rec)
	}
}

// signalWriter is a syncBuffer that closes seen once the text written to it satisfies cond.
type signalWriter struct {
	syncBuffer
	cond func(string) bool
	once sync.Once
	seen chan struct{}
}

func (w *signalWriter) Write(p []byte) (int, error) {
	n, err := w.syncBuffer.Write(p)
	if w.cond(w.String()) {
		w.once.Do(func() { close(w.seen) })
	}
	return n, err
}

// TestWaitInterrupted checks that Ctrl-C ends a wait on a command that does not finish with
// exit code 1 and the state it was left in.
func TestWaitInterrupted(t *testing.T) {
	fastPoll(t)
	addr := startServer(t, &commandServer{states: toRunning})
	ctx, cancel := context.WithCancel(t.Context())
	// The wait has seen the command running once it printed that transition; the server
	// reports no state past running, so nothing changes after it.
	stdout := &signalWriter{seen: make(chan struct{}), cond: func(s string) bool {
		for line := range strings.Lines(s) {
			if f := strings.Fields(line); len(f) >= 2 && f[1] == "running" {
				return true
			}
		}
		return false
	}}
	var stderr syncBuffer
	var code int
	done := make(chan struct{})
	go func() {
		defer close(done)
		code = run(ctx, []string{"--addr", addr, "cmd", "send", "web-1", "deploy", "--version", "9", "--wait"}, stdout, &stderr)
	}()
	defer func() {
		cancel()
		<-done
	}()
	select {
	case <-stdout.seen:
	case <-done:
		t.Fatalf("fleetctl returned %d before it was interrupted; stdout %q, stderr %q", code, stdout.String(), stderr.String())
	case <-time.After(10 * time.Second):
		t.Fatalf("the wait never printed the running state; stdout %q", stdout.String())
	}
	// Interrupt, as Ctrl-C would.
	cancel()
	<-done
	if want := "fleetctl: stopped waiting: command c1 is still running; see fleetctl cmd get c1\n"; code != exitError || stderr.String() != want {
		t.Errorf("exit code %d, stderr %q; want 1 and %q", code, stderr.String(), want)
	}
}
