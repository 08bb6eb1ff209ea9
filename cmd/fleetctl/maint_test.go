package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dspyfleet/dspyfleet/agent"
	"github.com/dspyfleet/dspyfleet/internal/fleettest"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

func TestParseMaintSpec(t *testing.T) {
	start := time.Date(2026, 3, 1, 3, 0, 0, 0, time.UTC)
	tests := []struct {
		args    []string
		want    *fleetv1.MaintenanceSpec
		wantErr string
	}{
		{[]string{"web", "--task", "restart", "--task", "deploy=2.0", "--start", "2026-03-01T03:00:00Z", "--max-unavailable", "2", "--min-healthy", "3"},
			&fleetv1.MaintenanceSpec{Pool: "web", Tasks: []*fleetv1.MaintenanceTask{{Kind: fleetv1.MaintenanceTaskKind_MAINTENANCE_TASK_KIND_RESTART},
				{Kind: fleetv1.MaintenanceTaskKind_MAINTENANCE_TASK_KIND_DEPLOY, Version: "2.0"}}, Start: timestamppb.New(start), MaxUnavailable: 2, MinHealthy: 3}, ""},
		{[]string{"web", "--task", "cleanup", "--cron", "0 3 * * SUN", "--duration", "2h", "--nodes", "a,b"},
			&fleetv1.MaintenanceSpec{Pool: "web", Tasks: []*fleetv1.MaintenanceTask{{Kind: fleetv1.MaintenanceTaskKind_MAINTENANCE_TASK_KIND_CLEANUP}},
				Cron: "0 3 * * SUN", Duration: durationpb.New(2 * time.Hour), Nodes: []string{"a", "b"}}, ""},
		{[]string{"web", "--task", "reboot"}, nil, "-task"},
		{[]string{"web", "--start", "tomorrow"}, nil, "--start"},
		{[]string{}, nil, "pool"},
	}
	for _, tt := range tests {
		got, err := parseMaintSpec(newGlobals(), tt.args)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("parseMaintSpec(%v) = %v, want error containing %q", tt.args, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !proto.Equal(got, tt.want) {
			t.Errorf("parseMaintSpec(%v) = %v, %v; want %v", tt.args, got, err, tt.want)
		}
	}
}

func TestMaintCommandsAgainstControlPlane(t *testing.T) {
	cp := fleettest.StartControlPlane(t, fleettest.FastConfig(t))
	t.Setenv("DSPYFLEET_ADDR", cp.GRPCAddr())
	ctx := context.Background()
	fleetctl := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := run(ctx, args, &out, &errOut)
		return code, out.String(), errOut.String()
	}
	for _, id := range []string{"web-1", "web-2"} {
		cfg := agent.DefaultConfig()
		cfg.Server, cfg.NodeID, cfg.Pool = cp.GRPCAddr(), id, "web"
		cfg.Interval, cfg.StateDir, cfg.Logger = 100*time.Millisecond, t.TempDir(), fleettest.Logger(t)
		a, err := agent.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		actx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- a.Run(actx) }()
		t.Cleanup(func() { stop(); <-done })
	}
	fleet := cp.Fleet(t)
	fleettest.Eventually(t, 10*time.Second, "both nodes known", func() bool {
		return fleettest.NodeState(fleet, "web-2") == fleetv1.NodeState_NODE_STATE_READY && fleettest.NodeState(fleet, "web-1") == fleetv1.NodeState_NODE_STATE_READY
	})

	if code, out, _ := fleetctl("maint", "list"); code != exitOK || !strings.Contains(out, "no maintenance windows") {
		t.Fatalf("list with none: %d %q", code, out)
	}
	if code, _, errOut := fleetctl("maint", "schedule", "web", "--task", "restart", "--cron", "99 * * * *", "--duration", "1h"); code != exitError || !strings.Contains(errOut, "spec.cron") {
		t.Fatalf("bad cron: %d %q", code, errOut)
	}
	if code, _, errOut := fleetctl("maint", "schedule", "web"); code != exitError || !strings.Contains(errOut, "spec.tasks") {
		t.Fatalf("no tasks: %d %q", code, errOut)
	}
	code, out, errOut := fleetctl("maint", "schedule", "web", "--task", "restart", "--cron", "0 3 * * SUN", "--duration", "2h")
	if code != exitOK || !strings.Contains(out, "State:    scheduled") || !strings.Contains(out, `cron "0 3 * * SUN"`) {
		t.Fatalf("schedule: %d %q %q", code, out, errOut)
	}
	id := strings.Fields(out)[2]
	if code, out, _ := fleetctl("maint", "list"); code != exitOK || !strings.Contains(out, id) || !strings.Contains(out, "restart") {
		t.Fatalf("list: %d %q", code, out)
	}
	if code, out, _ := fleetctl("maint", "get", id); code != exitOK || !strings.Contains(out, "1 unavailable at most, 1 healthy at least") {
		t.Fatalf("get: %d %q", code, out)
	}
	if code, out, _ := fleetctl("maint", "cancel", id, "--reason", "not needed"); code != exitOK || !strings.Contains(out, "cancelled") || !strings.Contains(out, "not needed") {
		t.Fatalf("cancel: %d %q", code, out)
	}
	if code, _, errOut := fleetctl("maint", "cancel", id); code != exitError || !strings.Contains(errOut, "already ended") {
		t.Fatalf("second cancel: %d %q", code, errOut)
	}
}
