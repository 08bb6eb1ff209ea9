package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/dspyfleet/dspyfleet/internal/fleettest"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// TestPickWakesAnEmptyScaledPool: a Pick on a scaled-to-zero pool answers Unavailable with a
// retry hint and makes the autoscaler call its hook for the wake size at once.
func TestPickWakesAnEmptyScaledPool(t *testing.T) {
	cfg := fleettest.FastConfig(t)
	cfg.ReconcileInterval = time.Hour // only the wake may trigger a decision
	cfg.ScalingHookDir = t.TempDir()
	dir := t.TempDir()
	hookLog := filepath.Join(dir, "hook.log")
	writeFile(t, filepath.Join(cfg.ScalingHookDir, "scale.sh"),
		fmt.Sprintf("#!/bin/sh\necho \"$(date +%%s%%N) $POOL $CURRENT $DESIRED ${VICTIMS:--}\" >> %s\n", hookLog), 0o755)
	cp := fleettest.StartControlPlane(t, cfg)
	t.Setenv("DSPYFLEET_ADDR", cp.GRPCAddr())
	policy := writeFile(t, filepath.Join(dir, "zero.yaml"), "min: 0\nmax: 3\nwake_size: 2\npredictive: {lead_time: 90s}\nactuator:\n  exec_hook: scale.sh\n", 0o600)
	if res := runCLI(t, "scale", "policy", "set", "web", "-f", policy); res.code != exitOK {
		t.Fatalf("policy set: %+v", res)
	}

	rc := fleetv1.NewRoutingServiceClient(fleettest.Dial(t, cp.GRPCAddr()))
	_, err := rc.Pick(context.Background(), &fleetv1.PickRequest{Pool: "web"})
	st := status.Convert(err)
	if st.Code() != codes.Unavailable || !strings.Contains(st.Message(), "the pool has no nodes") || !strings.Contains(st.Message(), "retry in 1m30s") {
		t.Fatalf("Pick on the empty pool = %v", err)
	}
	var hint *errdetails.RetryInfo
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			hint = ri
		}
	}
	if hint == nil || hint.GetRetryDelay().AsDuration() != 90*time.Second {
		t.Fatalf("retry hint %v, want 90s", st.Details())
	}
	fleettest.Eventually(t, 10*time.Second, "the hook to wake the pool", func() bool {
		lines := readHookLog(t, hookLog)
		return len(lines) > 0 && lines[0].current == 0 && lines[0].desired == 2
	})

	// A pool nobody configured is still unknown.
	if _, err := rc.Pick(context.Background(), &fleetv1.PickRequest{Pool: "other"}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("Pick on an unknown pool = %v", err)
	}
}
