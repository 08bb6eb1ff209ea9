package main

import (
	"bufio"
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/dspyfleet/dspyfleet/agent"
	"github.com/dspyfleet/dspyfleet/internal/fleettest"
	cmdspec "github.com/dspyfleet/dspyfleet/pkg/command"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// summaryID finds the command id in the summary line fleetctl prints for a queued command.
var summaryID = regexp.MustCompile(`(?m)^Command ([0-9a-f]{32}): `)

// commandID returns the id of the command whose summary is in out.
func commandID(t *testing.T, out string) string {
	t.Helper()
	m := summaryID.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no command summary in:\n%s", out)
	}
	return m[1]
}

// TestCommandsAgainstControlPlane drives drain, undrain and commands through fleetctl against a
// real control plane and a real agent that has a deploy action and no restart action.
func TestCommandsAgainstControlPlane(t *testing.T) {
	cp := fleettest.StartControlPlane(t, fleettest.FastConfig(t))
	t.Setenv("DSPYFLEET_ADDR", cp.GRPCAddr())

	var watchOut syncBuffer
	watchCtx, stopWatch := context.WithCancel(context.Background())
	defer stopWatch()
	watchDone := make(chan int, 1)
	go func() {
		watchDone <- run(watchCtx, []string{"-o", "json", "cmd", "watch", "--node", "cmd-node"}, &watchOut, &watchOut)
	}()

	cfg := agent.DefaultConfig()
	cfg.Server = cp.GRPCAddr()
	cfg.NodeID = "cmd-node"
	cfg.Interval = 100 * time.Millisecond
	cfg.StateDir = t.TempDir()
	cfg.Logger = fleettest.Logger(t)
	cfg.Actions = map[cmdspec.Kind]agent.Action{
		cmdspec.Deploy: agent.ActionFunc(func(_ context.Context, cmd *fleetv1.Command) (agent.Outcome, error) {
			v := cmd.GetParams()[cmdspec.ParamVersion]
			return agent.Outcome{Detail: "now running " + v, Fields: map[string]string{"version": v}}, nil
		}),
	}
	a, err := agent.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	agentCtx, stopAgent := context.WithCancel(context.Background())
	defer stopAgent()
	agentDone := make(chan error, 1)
	go func() { agentDone <- a.Run(agentCtx) }()
	c := cp.Fleet(t)
	fleettest.Eventually(t, 10*time.Second, "cmd-node ready", func() bool {
		return fleettest.NodeState(c, "cmd-node") == fleetv1.NodeState_NODE_STATE_READY
	})

	// Drain, with a request in flight so that the node stays draining until it ends.
	endRequest := a.Requests().Begin()
	res := runCLI(t, "nodes", "drain", "cmd-node", "--deadline", "30s", "--reason", "kernel update")
	if res.code != exitOK || !strings.Contains(res.stdout, "Node cmd-node is now draining") || !strings.Contains(res.stdout, "within 30s") {
		t.Fatalf("nodes drain: %+v", res)
	}
	drainID := commandID(t, res.stdout)
	if res := runCLI(t, "nodes", "get", "cmd-node"); !strings.Contains(res.stdout, "State:           draining\n") {
		t.Fatalf("nodes get after drain: %+v", res)
	}
	endRequest()
	fleettest.Eventually(t, 10*time.Second, "cmd-node drained", func() bool {
		return fleettest.NodeState(c, "cmd-node") == fleetv1.NodeState_NODE_STATE_DRAINED
	})
	res = runCLI(t, "cmd", "list", "--node", "cmd-node", "--kind", "drain")
	if res.code != exitOK || !regexp.MustCompile(`(?m)^`+drainID+` +cmd-node +drain +succeeded +\S+ +drained: nothing in flight`).MatchString(res.stdout) {
		t.Fatalf("cmd list --kind drain: %+v", res)
	}

	res = runCLI(t, "-o", "json", "nodes", "undrain", "cmd-node", "--reason", "done")
	var undrain fleetv1.CommandRecord
	if err := protojson.Unmarshal([]byte(res.stdout), &undrain); res.code != exitOK || err != nil ||
		undrain.GetCommand().GetKind() != fleetv1.CommandKind_COMMAND_KIND_UNDRAIN || undrain.GetCommand().GetReason() != "done" {
		t.Fatalf("nodes undrain -o json: %v %+v", err, res)
	}
	fleettest.Eventually(t, 10*time.Second, "cmd-node ready again", func() bool {
		return fleettest.NodeState(c, "cmd-node") == fleetv1.NodeState_NODE_STATE_READY
	})

	res = runCLI(t, "cmd", "send", "cmd-node", "deploy", "--version", "1.2.3", "--reason", "release", "--wait")
	if res.code != exitOK || res.stderr != "" || !strings.Contains(res.stdout, "Succeeded: now running 1.2.3\n  version=1.2.3\n") {
		t.Fatalf("cmd send deploy --wait: %+v", res)
	}
	deployID := commandID(t, res.stdout)

	res = runCLI(t, "cmd", "send", "cmd-node", "restart", "--wait")
	if res.code != exitError || !strings.Contains(res.stderr, "no restart action is configured") || !strings.Contains(res.stdout, "Failed: ") {
		t.Fatalf("cmd send restart --wait: %+v", res)
	}
	restartID := commandID(t, res.stdout)

	res = runCLI(t, "cmd", "send", "cmd-node", "scale", "--instances", "-1")
	if res.code != exitUsage || !strings.Contains(res.stderr, "-instances") {
		t.Fatalf("cmd send scale --instances -1: %+v", res)
	}
	// The server is the authority on what the CLI does not check itself.
	res = runCLI(t, "cmd", "send", "cmd-node", "restart", "--timeout", "800h")
	if res.code != exitError || !strings.HasPrefix(res.stderr, "fleetctl: InvalidArgument: ") {
		t.Fatalf("cmd send --timeout 800h: %+v", res)
	}

	res = runCLI(t, "cmd", "get", deployID)
	for _, want := range []string{"Kind:         deploy\n", "Params:       version=1.2.3\n", "State:        succeeded\n",
		"Fields:       version=1.2.3\n", "Reason:       release\n", "History:\n"} {
		if res.code != exitOK || !strings.Contains(res.stdout, want) {
			t.Fatalf("cmd get lacks %q: %+v", want, res)
		}
	}
	// Intermediate states may be skipped when the agent reports faster than the control plane
	// sends; the first and the last are always there.
	for _, state := range []string{"pending", "succeeded"} {
		if !regexp.MustCompile(`(?m)^  \S+  ` + state + ` `).MatchString(res.stdout) {
			t.Errorf("cmd get history lacks %s:\n%s", state, res.stdout)
		}
	}

	res = runCLI(t, "cmd", "list", "--state", "succeeded")
	if res.code != exitOK || !strings.Contains(res.stdout, deployID) || !strings.Contains(res.stdout, drainID) || strings.Contains(res.stdout, restartID) {
		t.Fatalf("cmd list --state succeeded: %+v", res)
	}
	res = runCLI(t, "-o", "json", "cmd", "list", "--state", "FAILED")
	var failed fleetv1.ListCommandsResponse
	if err := protojson.Unmarshal([]byte(res.stdout), &failed); err != nil || len(failed.GetCommands()) != 1 || failed.GetCommands()[0].GetCommand().GetId() != restartID {
		t.Fatalf("cmd list --state FAILED -o json: %v %+v", err, res)
	}

	res = runCLI(t, "cmd", "cancel", deployID)
	if res.code != exitError || !strings.HasPrefix(res.stderr, "fleetctl: FailedPrecondition: ") || !strings.Contains(res.stderr, "succeeded") {
		t.Fatalf("cmd cancel of a finished command: %+v", res)
	}

	fleettest.Eventually(t, 10*time.Second, "the watch to see the deploy succeed", func() bool {
		return strings.Contains(watchOut.String(), `"id":"`+deployID+`"`) &&
			strings.Contains(watchOut.String(), `"version":"1.2.3"`)
	})
	stopWatch()
	if code := <-watchDone; code != exitOK {
		t.Fatalf("cmd watch exit code %d: %s", code, watchOut.String())
	}
	var deployStates []fleetv1.CommandState
	sc := bufio.NewScanner(strings.NewReader(watchOut.String()))
	for sc.Scan() {
		var ev fleetv1.WatchCommandsResponse
		if err := protojson.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("watch line %q: %v", sc.Text(), err)
		}
		if r := ev.GetCommand(); r.GetNodeId() != "cmd-node" {
			t.Errorf("watch of cmd-node printed a command of %q", r.GetNodeId())
		} else if r.GetCommand().GetId() == deployID {
			deployStates = append(deployStates, r.GetState())
		}
	}
	if n := len(deployStates); n == 0 || deployStates[n-1] != fleetv1.CommandState_COMMAND_STATE_SUCCEEDED {
		t.Errorf("watch saw the deploy in states %v, want succeeded last", deployStates)
	}

	// A command for a node that is away stays pending, and can be cancelled.
	stopAgent()
	if err := <-agentDone; err != nil {
		t.Fatalf("agent: %v", err)
	}
	fleettest.Eventually(t, 10*time.Second, "cmd-node disconnected", func() bool {
		return fleettest.NodeState(c, "cmd-node") != fleetv1.NodeState_NODE_STATE_READY
	})
	res = runCLI(t, "cmd", "send", "cmd-node", "drain", "--deadline", "1m")
	if res.code != exitOK || !strings.Contains(res.stdout, "drain on cmd-node, pending (queued)") || !strings.Contains(res.stdout, "now draining") ||
		!strings.Contains(res.stdout, "within 1m0s") {
		t.Fatalf("cmd send drain: %+v", res)
	}
	res = runCLI(t, "cmd", "cancel", commandID(t, res.stdout), "--reason", "not needed")
	if res.code != exitOK || !strings.Contains(res.stdout, "drain on cmd-node, cancelled (cancelled: not needed)") {
		t.Fatalf("cmd cancel: %+v", res)
	}
}
