package main

import (
	"context"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dspyfleet/dspyfleet/agent"
	"github.com/dspyfleet/dspyfleet/internal/fleettest"
	cmdspec "github.com/dspyfleet/dspyfleet/pkg/command"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// TestCommandsHeldForWindowCLI: with a maintenance window on pool web that opens in an hour,
// "cmd send NODE restart" prints the command held with the window and until when, "cmd list
// --state held" and "cmd get" show why, "cmd cancel" cancels it, "cmd send --now" restarts
// the node at once, and "fleetctl audit" names the window it overrode.
func TestCommandsHeldForWindowCLI(t *testing.T) {
	cp := fleettest.StartControlPlane(t, fleettest.FastConfig(t))
	t.Setenv("DSPYFLEET_ADDR", cp.GRPCAddr())
	var mu sync.Mutex
	var restarted []string
	for _, id := range []string{"web-1", "web-2"} {
		cfg := agent.DefaultConfig()
		cfg.Server, cfg.NodeID, cfg.Pool = cp.GRPCAddr(), id, "web"
		cfg.Interval, cfg.StateDir, cfg.Logger = 100*time.Millisecond, t.TempDir(), fleettest.Logger(t)
		cfg.Actions = map[cmdspec.Kind]agent.Action{cmdspec.Restart: agent.ActionFunc(func(_ context.Context, cmd *fleetv1.Command) (agent.Outcome, error) {
			mu.Lock()
			defer mu.Unlock()
			restarted = append(restarted, cmd.GetId())
			return agent.Outcome{Detail: "restarted"}, nil
		})}
		a, err := agent.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		ctx, stop := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- a.Run(ctx) }()
		t.Cleanup(func() { stop(); <-done })
	}
	fleet := cp.Fleet(t)
	fleettest.Eventually(t, 10*time.Second, "both nodes ready", func() bool {
		return fleettest.NodeState(fleet, "web-1") == fleetv1.NodeState_NODE_STATE_READY && fleettest.NodeState(fleet, "web-2") == fleetv1.NodeState_NODE_STATE_READY
	})
	start := time.Now().Add(time.Hour).Truncate(time.Second)
	m, err := fleetv1.NewMaintenanceServiceClient(fleettest.Dial(t, cp.GRPCAddr())).ScheduleMaintenance(context.Background(), &fleetv1.ScheduleMaintenanceRequest{
		Spec: &fleetv1.MaintenanceSpec{Pool: "web", Start: timestamppb.New(start), End: timestamppb.New(start.Add(time.Hour)),
			Tasks: []*fleetv1.MaintenanceTask{{Kind: fleetv1.MaintenanceTaskKind_MAINTENANCE_TASK_KIND_RESTART}}}})
	if err != nil {
		t.Fatal(err)
	}
	window := m.GetMaintenance().GetId()
	reason := "held for maintenance window " + window + " of pool web until " + start.UTC().Format("2006-01-02 15:04:05") + " UTC"

	res := runCLI(t, "cmd", "send", "web-1", "restart", "--reason", "kernel")
	if res.code != exitOK || !strings.Contains(res.stdout, ": restart on web-1, held ("+reason+")") {
		t.Fatalf("cmd send restart with a window ahead: %+v, want held: %s", res, reason)
	}
	heldID := commandID(t, res.stdout)
	res = runCLI(t, "cmd", "list", "--state", "held")
	if res.code != exitOK || !regexp.MustCompile(`(?m)^`+heldID+` +web-1 +restart +held +\S+ +`+regexp.QuoteMeta(reason)+`$`).MatchString(res.stdout) {
		t.Fatalf("cmd list --state held: %+v", res)
	}
	res = runCLI(t, "cmd", "get", heldID)
	if res.code != exitOK || !strings.Contains(res.stdout, "State:        held\n") || !strings.Contains(res.stdout, "Held for:     maintenance window "+window+" until ") {
		t.Fatalf("cmd get of the held command: %+v", res)
	}

	res = runCLI(t, "cmd", "send", "web-1", "restart", "--now", "--wait")
	// The drain of an idle node takes 0s, or a few ms on a loaded machine.
	if res.code != exitOK || !regexp.MustCompile(`(?m)^Succeeded: drained in [0-9.]+m?s, then restarted$`).MatchString(res.stdout) {
		t.Fatalf("cmd send restart --now --wait: %+v", res)
	}
	nowID := commandID(t, res.stdout)
	if res := runCLI(t, "cmd", "get", nowID); !strings.Contains(res.stdout, "Window overridden: yes") {
		t.Fatalf("cmd get of the overriding command: %+v", res)
	}
	res = runCLI(t, "audit", "--target", "web-1")
	if res.code != exitOK || !strings.Contains(res.stdout, "command "+nowID+" overrode maintenance window "+window+" of pool web") ||
		!strings.Contains(res.stdout, "command "+heldID+" "+reason) {
		t.Fatalf("audit --target web-1: %+v", res)
	}

	res = runCLI(t, "cmd", "cancel", heldID, "--reason", "done at once instead")
	if res.code != exitOK || !strings.Contains(res.stdout, "cancelled") {
		t.Fatalf("cmd cancel of the held command: %+v", res)
	}
	if res := runCLI(t, "cmd", "get", heldID); !strings.Contains(res.stdout, "State:        cancelled\n") {
		t.Fatalf("cmd get after the cancel: %+v", res)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(restarted) != 1 || restarted[0] != nowID {
		t.Fatalf("the agents ran restarts %v, want only %s", restarted, nowID)
	}
}
