package e2e

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/dspyfleet/dspyfleet/agent"
	"github.com/dspyfleet/dspyfleet/internal/fleettest"
	"github.com/dspyfleet/dspyfleet/pkg/command"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

const (
	pending   = fleetv1.CommandState_COMMAND_STATE_PENDING
	succeeded = fleetv1.CommandState_COMMAND_STATE_SUCCEEDED
	failed    = fleetv1.CommandState_COMMAND_STATE_FAILED
	expired   = fleetv1.CommandState_COMMAND_STATE_EXPIRED
	cancelled = fleetv1.CommandState_COMMAND_STATE_CANCELLED
	draining  = fleetv1.NodeState_NODE_STATE_DRAINING
	drained   = fleetv1.NodeState_NODE_STATE_DRAINED
)

// waitCommand waits for a command to reach want and returns it.
func waitCommand(t *testing.T, c fleetv1.FleetServiceClient, id string, want fleetv1.CommandState, within time.Duration) *fleetv1.CommandRecord {
	t.Helper()
	var rec *fleetv1.CommandRecord
	fleettest.Eventually(t, within, "command "+id+" to be "+want.String(), func() bool {
		resp, err := c.GetCommand(context.Background(), &fleetv1.GetCommandRequest{Id: id})
		if err != nil {
			t.Fatalf("GetCommand: %v", err)
		}
		rec = resp.GetCommand()
		return rec.GetState() == want
	})
	return rec
}

// holdsWhileInFlight checks that a drain with one request in flight does not finish: through
// three reports the agent made after the drain began, each carrying that request, the node
// stays draining, and then its drain command is still running.
func holdsWhileInFlight(t *testing.T, c fleetv1.FleetServiceClient, node, drainID string) {
	t.Helper()
	throughReports(t, c, node, 3, 10*time.Second, func(n *fleetv1.Node) {
		t.Helper()
		if n.GetState() != draining || n.GetLastReport().GetApp().GetInFlight() != 1 {
			t.Fatalf("with a request in flight the node is %s (%s) reporting %d in flight, want still draining with 1",
				n.GetState(), n.GetStateReason(), n.GetLastReport().GetApp().GetInFlight())
		}
	})
	resp, err := c.GetCommand(context.Background(), &fleetv1.GetCommandRequest{Id: drainID})
	if err != nil {
		t.Fatal(err)
	}
	if st := resp.GetCommand().GetState(); st != fleetv1.CommandState_COMMAND_STATE_RUNNING {
		t.Fatalf("with a request in flight the drain command is %s (%s), want still running", st, resp.GetCommand().GetDetail())
	}
}

func TestDrainWaitsForInFlightThenUndrain(t *testing.T) {
	cp := fleettest.StartControlPlane(t, fleettest.FastConfig(t))
	c := cp.Fleet(t)
	a := startAgent(t, cp.GRPCAddr(), "busy")
	waitState(t, c, "busy", ready, 10*time.Second)
	end := a.Requests().Begin()

	resp, err := c.DrainNode(context.Background(), &fleetv1.DrainNodeRequest{Id: "busy", Timeout: durationpb.New(time.Minute), Reason: "kernel upgrade"})
	if err != nil {
		t.Fatal(err)
	}
	if st := fleettest.NodeState(c, "busy"); st != draining {
		t.Fatalf("right after DrainNode the node is %s, want draining", st)
	}
	id := resp.GetCommand().GetCommand().GetId()
	waitCommand(t, c, id, fleetv1.CommandState_COMMAND_STATE_RUNNING, 10*time.Second)
	fleettest.Eventually(t, 5*time.Second, "the agent to refuse new requests", a.Draining)
	holdsWhileInFlight(t, c, "busy", id)
	end()
	rec := waitCommand(t, c, id, succeeded, 10*time.Second)
	if rec.GetFields()["in_flight"] != "0" || rec.GetFields()["timed_out"] != "false" {
		t.Fatalf("drain outcome fields %v", rec.GetFields())
	}
	waitState(t, c, "busy", drained, 5*time.Second)
	if n := fleettest.Node(t, c, "busy"); !n.GetDrained() || !strings.HasPrefix(n.GetStateReason(), "drained") {
		t.Fatalf("drained node: %v (%s)", n.GetDrained(), n.GetStateReason())
	}
	var states []fleetv1.CommandState
	for _, h := range rec.GetHistory() {
		states = append(states, h.GetState())
	}
	want := []fleetv1.CommandState{pending, fleetv1.CommandState_COMMAND_STATE_SENT, fleetv1.CommandState_COMMAND_STATE_ACCEPTED, fleetv1.CommandState_COMMAND_STATE_RUNNING, succeeded}
	if len(states) != len(want) {
		t.Fatalf("history %v, want %v", states, want)
	}
	for i := range want {
		if states[i] != want[i] || rec.GetHistory()[i].GetTime() == nil {
			t.Fatalf("history %v, want %v with times", states, want)
		}
	}

	un, err := c.UndrainNode(context.Background(), &fleetv1.UndrainNodeRequest{Id: "busy"})
	if err != nil {
		t.Fatal(err)
	}
	waitCommand(t, c, un.GetCommand().GetCommand().GetId(), succeeded, 10*time.Second)
	waitState(t, c, "busy", ready, 5*time.Second)
	if a.Draining() {
		t.Fatal("agent still draining after undrain")
	}
}

func TestDrainEndsAtItsTimeout(t *testing.T) {
	cp := fleettest.StartControlPlane(t, fleettest.FastConfig(t))
	c := cp.Fleet(t)
	a := startAgent(t, cp.GRPCAddr(), "stuck")
	waitState(t, c, "stuck", ready, 10*time.Second)
	defer a.Requests().Begin()()
	resp, err := c.DrainNode(context.Background(), &fleetv1.DrainNodeRequest{Id: "stuck", Timeout: durationpb.New(300 * time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	rec := waitCommand(t, c, resp.GetCommand().GetCommand().GetId(), succeeded, 10*time.Second)
	if rec.GetFields()["timed_out"] != "true" || rec.GetFields()["in_flight"] != "1" {
		t.Fatalf("fields %v", rec.GetFields())
	}
	waitState(t, c, "stuck", drained, 5*time.Second)
}

func TestDrainSurvivesAgentRestart(t *testing.T) {
	cp := fleettest.StartControlPlane(t, fleettest.FastConfig(t))
	c := cp.Fleet(t)
	stateDir := t.TempDir()
	withState := func(cfg *agent.Config) { cfg.StateDir = stateDir }
	a := startAgentWith(t, cp.GRPCAddr(), "sticky", withState)
	waitState(t, c, "sticky", ready, 10*time.Second)
	resp, err := c.DrainNode(context.Background(), &fleetv1.DrainNodeRequest{Id: "sticky"})
	if err != nil {
		t.Fatal(err)
	}
	waitCommand(t, c, resp.GetCommand().GetCommand().GetId(), succeeded, 10*time.Second)
	a.stop(t)
	b := startAgentWith(t, cp.GRPCAddr(), "sticky", withState)
	waitState(t, c, "sticky", drained, 10*time.Second)
	if !b.Draining() {
		t.Fatal("a restarted agent forgot its drain")
	}
}

func TestCommandWithoutConfiguredAction(t *testing.T) {
	cp := fleettest.StartControlPlane(t, fleettest.FastConfig(t))
	c := cp.Fleet(t)
	startAgent(t, cp.GRPCAddr(), "bare")
	waitState(t, c, "bare", ready, 10*time.Second)
	resp, err := c.SendCommand(context.Background(), &fleetv1.SendCommandRequest{NodeId: "bare", Kind: fleetv1.CommandKind_COMMAND_KIND_RESTART})
	if err != nil {
		t.Fatal(err)
	}
	rec := waitCommand(t, c, resp.GetCommand().GetCommand().GetId(), failed, 10*time.Second)
	if !strings.Contains(rec.GetDetail(), "no restart action is configured on this agent") {
		t.Fatalf("detail %q", rec.GetDetail())
	}
}

func TestCommandRunsOnceWithItsOutcome(t *testing.T) {
	cp := fleettest.StartControlPlane(t, fleettest.FastConfig(t))
	c := cp.Fleet(t)
	var runs atomic.Int32
	deploy := agent.ActionFunc(func(_ context.Context, cmd *fleetv1.Command) (agent.Outcome, error) {
		runs.Add(1)
		return agent.Outcome{Detail: "now running " + cmd.GetParams()["version"], Fields: map[string]string{"version": cmd.GetParams()["version"]}}, nil
	})
	proxy := fleettest.StartProxy(t, cp.GRPCAddr())
	startAgentWith(t, proxy.Addr(), "deployer", func(cfg *agent.Config) {
		cfg.Actions = map[command.Kind]agent.Action{command.Deploy: deploy}
	})
	waitState(t, c, "deployer", ready, 10*time.Second)

	w, err := c.WatchCommands(t.Context(), &fleetv1.WatchCommandsRequest{NodeId: "deployer"})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.SendCommand(context.Background(), &fleetv1.SendCommandRequest{
		NodeId: "deployer", Kind: fleetv1.CommandKind_COMMAND_KIND_DEPLOY, Params: map[string]string{"version": "1.4.2"}, Reason: "release",
	})
	if err != nil {
		t.Fatal(err)
	}
	id := resp.GetCommand().GetCommand().GetId()
	if resp.GetCommand().GetCommand().GetSeq() == 0 || resp.GetCommand().GetCommand().GetRequestedBy() == "" {
		t.Fatalf("stored command lacks seq or requester: %v", resp.GetCommand())
	}
	rec := waitCommand(t, c, id, succeeded, 10*time.Second)
	if rec.GetFields()["version"] != "1.4.2" || rec.GetDetail() != "now running 1.4.2" {
		t.Fatalf("outcome %q %v", rec.GetDetail(), rec.GetFields())
	}
	var watched []fleetv1.CommandState
	for len(watched) == 0 || watched[len(watched)-1] != succeeded {
		ev, err := w.Recv()
		if err != nil {
			t.Fatal(err)
		}
		watched = append(watched, ev.GetCommand().GetState())
		if ev.GetCommand().GetState() == succeeded && ev.GetCommand().GetFields()["version"] != "1.4.2" {
			t.Fatalf("the watched outcome lacks its fields: %v", ev.GetCommand())
		}
	}
	if len(watched) != 5 {
		t.Fatalf("watched states %v", watched)
	}

	// A reconnect makes the control plane send nothing finished again, and nothing runs twice.
	proxy.Stall()
	waitState(t, c, "deployer", down, 5*time.Second)
	proxy.Heal()
	waitState(t, c, "deployer", ready, 10*time.Second)
	if n := runs.Load(); n != 1 {
		t.Fatalf("deploy ran %d times", n)
	}
}

func TestCommandForAbsentNodeWaitsThenExpires(t *testing.T) {
	cp := fleettest.StartControlPlane(t, fleettest.FastConfig(t))
	c := cp.Fleet(t)
	a := startAgent(t, cp.GRPCAddr(), "away")
	waitState(t, c, "away", ready, 10*time.Second)
	a.stop(t)

	late, err := c.SendCommand(context.Background(), &fleetv1.SendCommandRequest{NodeId: "away", Kind: fleetv1.CommandKind_COMMAND_KIND_UNDRAIN, Timeout: durationpb.New(400 * time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	rec := waitCommand(t, c, late.GetCommand().GetCommand().GetId(), expired, 5*time.Second)
	if !strings.Contains(rec.GetDetail(), "could be delivered") {
		t.Fatalf("expiry reason %q", rec.GetDetail())
	}

	// A command whose deadline is far enough is delivered when the node comes back.
	kept, err := c.SendCommand(context.Background(), &fleetv1.SendCommandRequest{NodeId: "away", Kind: fleetv1.CommandKind_COMMAND_KIND_UNDRAIN})
	if err != nil {
		t.Fatal(err)
	}
	toCancel, err := c.SendCommand(context.Background(), &fleetv1.SendCommandRequest{NodeId: "away", Kind: fleetv1.CommandKind_COMMAND_KIND_UNDRAIN})
	if err != nil {
		t.Fatal(err)
	}
	cancelResp, err := c.CancelCommand(context.Background(), &fleetv1.CancelCommandRequest{Id: toCancel.GetCommand().GetCommand().GetId(), Reason: "changed my mind"})
	if err != nil || cancelResp.GetCommand().GetState() != cancelled {
		t.Fatalf("cancel: %v %v", cancelResp, err)
	}
	waitState(t, c, "away", down, 5*time.Second)
	startAgent(t, cp.GRPCAddr(), "away")
	waitCommand(t, c, kept.GetCommand().GetCommand().GetId(), succeeded, 10*time.Second)
	if rec, _ := c.GetCommand(context.Background(), &fleetv1.GetCommandRequest{Id: toCancel.GetCommand().GetCommand().GetId()}); rec.GetCommand().GetState() != cancelled {
		t.Fatalf("cancelled command became %s", rec.GetCommand().GetState())
	}
	_, err = c.CancelCommand(context.Background(), &fleetv1.CancelCommandRequest{Id: kept.GetCommand().GetCommand().GetId()})
	if status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("cancel of a finished command: %v", err)
	}
	list, err := c.ListCommands(context.Background(), &fleetv1.ListCommandsRequest{NodeId: "away", States: []fleetv1.CommandState{succeeded}})
	if err != nil || len(list.GetCommands()) != 1 {
		t.Fatalf("ListCommands succeeded: %v %v", list, err)
	}
}

func TestCommandBadInput(t *testing.T) {
	cp := fleettest.StartControlPlane(t, fleettest.FastConfig(t))
	c := cp.Fleet(t)
	startAgent(t, cp.GRPCAddr(), "n1")
	waitState(t, c, "n1", ready, 10*time.Second)
	tests := []struct {
		name string
		req  *fleetv1.SendCommandRequest
		code codes.Code
		want string
	}{
		{"unknown node", &fleetv1.SendCommandRequest{NodeId: "ghost", Kind: fleetv1.CommandKind_COMMAND_KIND_RESTART}, codes.NotFound, "ghost"},
		{"no kind", &fleetv1.SendCommandRequest{NodeId: "n1"}, codes.InvalidArgument, "kind"},
		{"unknown kind", &fleetv1.SendCommandRequest{NodeId: "n1", Kind: 42}, codes.InvalidArgument, "kind"},
		{"negative instances", &fleetv1.SendCommandRequest{NodeId: "n1", Kind: fleetv1.CommandKind_COMMAND_KIND_SCALE, Params: map[string]string{"instances": "-2"}}, codes.InvalidArgument, "params.instances"},
		{"empty version", &fleetv1.SendCommandRequest{NodeId: "n1", Kind: fleetv1.CommandKind_COMMAND_KIND_DEPLOY, Params: map[string]string{"version": ""}}, codes.InvalidArgument, "params.version"},
		{"command line as parameter", &fleetv1.SendCommandRequest{NodeId: "n1", Kind: fleetv1.CommandKind_COMMAND_KIND_RESTART, Params: map[string]string{"cmd": "rm -rf /"}}, codes.InvalidArgument, "params.cmd"},
		{"deadline in the past", &fleetv1.SendCommandRequest{NodeId: "n1", Kind: fleetv1.CommandKind_COMMAND_KIND_RESTART, Timeout: durationpb.New(-time.Minute)}, codes.InvalidArgument, "timeout"},
		{"bad drain timeout", &fleetv1.SendCommandRequest{NodeId: "n1", Kind: fleetv1.CommandKind_COMMAND_KIND_DRAIN, Params: map[string]string{"timeout": "forever"}}, codes.InvalidArgument, "params.timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.SendCommand(context.Background(), tt.req)
			if st := status.Convert(err); st.Code() != tt.code || !strings.Contains(st.Message(), tt.want) {
				t.Fatalf("got %s %q, want %s naming %s", st.Code(), st.Message(), tt.code, tt.want)
			}
		})
	}
	if _, err := c.DrainNode(context.Background(), &fleetv1.DrainNodeRequest{Id: "ghost"}); status.Code(err) != codes.NotFound {
		t.Fatalf("drain unknown node: %v", err)
	}
	if _, err := c.GetCommand(context.Background(), &fleetv1.GetCommandRequest{Id: "0123456789abcdef0123456789abcdef"}); status.Code(err) != codes.NotFound {
		t.Fatalf("get unknown command: %v", err)
	}
	if _, err := c.GetCommand(context.Background(), &fleetv1.GetCommandRequest{Id: "nope"}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("get malformed command id: %v", err)
	}
	list, err := c.ListCommands(context.Background(), &fleetv1.ListCommandsRequest{})
	if err != nil || len(list.GetCommands()) != 0 {
		t.Fatalf("bad input queued commands: %v %v", list, err)
	}
	if st := fleettest.NodeState(c, "n1"); st != ready {
		t.Fatalf("bad input changed the node to %s", st)
	}
}

// TestAgentStateResetIsFlagged: an agent that comes back without its state store (so it no
// longer knows which commands it ran) is reported by the control plane.
func TestAgentStateResetIsFlagged(t *testing.T) {
	cfg := fleettest.FastConfig(t)
	var logs fleettest.Buffer
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	cp := fleettest.StartControlPlane(t, cfg)
	c := cp.Fleet(t)
	a := startAgent(t, cp.GRPCAddr(), "forgetful")
	waitState(t, c, "forgetful", ready, 10*time.Second)
	resp, err := c.SendCommand(context.Background(), &fleetv1.SendCommandRequest{NodeId: "forgetful", Kind: fleetv1.CommandKind_COMMAND_KIND_UNDRAIN})
	if err != nil {
		t.Fatal(err)
	}
	waitCommand(t, c, resp.GetCommand().GetCommand().GetId(), succeeded, 10*time.Second)
	a.stop(t)
	if strings.Contains(logs.String(), "state store was reset") {
		t.Fatal("flagged a reset before any happened")
	}
	startAgent(t, cp.GRPCAddr(), "forgetful") // a fresh --state-dir
	waitState(t, c, "forgetful", ready, 10*time.Second)
	if !strings.Contains(logs.String(), "state store was reset") {
		t.Fatalf("an agent with a wiped state store was not flagged:\n%s", logs.String())
	}
}
