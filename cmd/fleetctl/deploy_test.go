package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/dspyfleet/dspyfleet/agent"
	"github.com/dspyfleet/dspyfleet/internal/fleettest"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

func TestParseDeployStart(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	u := func(v uint32) *uint32 { return &v }
	tests := []struct {
		args    []string
		want    *fleetv1.DeploymentSpec
		wantErr string
	}{
		{[]string{"web", "2.0"}, &fleetv1.DeploymentSpec{Pool: "web", Version: "2.0", Strategy: fleetv1.DeploymentStrategy_DEPLOYMENT_STRATEGY_ROLLING}, ""},
		{[]string{"web", "2.0", "--strategy", "canary", "--canary-percent", "10, 50", "--analysis-window", "2m", "--max-p95-ratio", "2", "--min-requests", "50", "--batch", "2"},
			&fleetv1.DeploymentSpec{Pool: "web", Version: "2.0", Strategy: fleetv1.DeploymentStrategy_DEPLOYMENT_STRATEGY_CANARY, CanaryPercent: []float64{10, 50},
				AnalysisWindow: durationpb.New(2 * time.Minute), MaxP95Ratio: f(2), MinRequests: u(50), BatchSize: u(2)}, ""},
		{[]string{"web", "2.0", "--strategy", "blue_green", "--idle-nodes", "a,b", "--keep-old", "1h"},
			&fleetv1.DeploymentSpec{Pool: "web", Version: "2.0", Strategy: fleetv1.DeploymentStrategy_DEPLOYMENT_STRATEGY_BLUE_GREEN, IdleNodes: []string{"a", "b"}, KeepOld: durationpb.New(time.Hour)}, ""},
		{[]string{"web"}, nil, "want POOL and VERSION"},
		{[]string{"web", "2.0", "--strategy", "yolo"}, nil, "--strategy"},
		{[]string{"web", "2.0", "--canary-percent", "ten"}, nil, "--canary-percent"},
		{[]string{"web", "2.0", "--batch", "-1"}, nil, "--batch"},
	}
	for _, tt := range tests {
		got, _, err := parseDeploySpec(newGlobals(), tt.args)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("parseDeployStart(%v) = %v, want error containing %q", tt.args, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !proto.Equal(got, tt.want) {
			t.Errorf("parseDeploySpec(%v) = %v, %v; want %v", tt.args, got, err, tt.want)
		}
	}
}

func TestDeployCommandsAgainstControlPlane(t *testing.T) {
	cp := fleettest.StartControlPlane(t, fleettest.FastConfig(t))
	t.Setenv("DSPYFLEET_ADDR", cp.GRPCAddr())
	ctx := context.Background()
	fleetctl := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := run(ctx, args, &out, &errOut)
		return code, out.String(), errOut.String()
	}
	if code, out, _ := fleetctl("deploy", "status"); code != exitOK || !strings.Contains(out, "no deployments") {
		t.Fatalf("status with none: %d %q", code, out)
	}
	if code, _, errOut := fleetctl("deploy", "start", "web", "2.0"); code != exitError || !strings.Contains(errOut, `spec.pool: pool "web" has no nodes`) {
		t.Fatalf("start on an empty pool: %d %q", code, errOut)
	}
	if code, _, errOut := fleetctl("deploy", "start", "web", "2.0", "--strategy", "canary", "--canary-percent", "150"); code != exitError || !strings.Contains(errOut, "spec.canary_percent[0]") {
		t.Fatalf("canary step above 100: %d %q", code, errOut)
	}

	// An agent without a deploy action: the deploy fails, the rollout stops, the node stays drained.
	cfg := agent.DefaultConfig()
	cfg.Server, cfg.NodeID, cfg.Pool = cp.GRPCAddr(), "web-1", "web"
	cfg.Interval, cfg.StateDir, cfg.Logger = 100*time.Millisecond, t.TempDir(), fleettest.Logger(t)
	a, err := agent.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	actx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.Run(actx) }()
	t.Cleanup(func() { stop(); <-done })
	fleet := cp.Fleet(t)
	fleettest.Eventually(t, 10*time.Second, "web-1 ready", func() bool { return fleettest.NodeState(fleet, "web-1") == fleetv1.NodeState_NODE_STATE_READY })

	code, _, errOut := fleetctl("deploy", "start", "web", "2.0", "--wait", "--reason", "cli test")
	if code != exitError || !strings.Contains(errOut, "failed") || !strings.Contains(errOut, "no deploy action is configured") {
		t.Fatalf("deploy start --wait of a failing deploy: %d %q", code, errOut)
	}
	code, out, _ := fleetctl("deploy", "status")
	if code != exitOK || !strings.Contains(out, "failed") || !strings.Contains(out, "0/1 nodes") {
		t.Fatalf("status list: %d %q", code, out)
	}
	id := strings.Fields(strings.Split(out, "\n")[1])[0]
	code, out, _ = fleetctl("deploy", "status", id)
	if code != exitOK || !strings.Contains(out, "web-1") || !strings.Contains(out, "Reason:   node web-1 failed") {
		t.Fatalf("status of one: %d %q", code, out)
	}
	if !strings.Contains(out, "no deploy action is configured") {
		t.Fatalf("status does not say why the node failed:\n%s", out)
	}
	if code, _, errOut := fleetctl("deploy", "abort", id); code != exitError || !strings.Contains(errOut, "already ended") {
		t.Fatalf("abort of a finished deployment: %d %q", code, errOut)
	}
	if code, _, errOut := fleetctl("deploy", "pause"); code != exitUsage || !strings.Contains(errOut, "deployment id") {
		t.Fatalf("pause without id: %d %q", code, errOut)
	}
}
