package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/dspyfleet/dspyfleet/agent"
	"github.com/dspyfleet/dspyfleet/internal/fleettest"
)

func TestRouteCommandsAgainstControlPlane(t *testing.T) {
	cp := fleettest.StartControlPlane(t, fleettest.FastConfig(t))
	t.Setenv("DSPYFLEET_ADDR", cp.GRPCAddr())
	ctx := context.Background()
	fleetctl := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := run(ctx, args, &out, &errOut)
		return code, out.String(), errOut.String()
	}

	if code, _, errOut := fleetctl("route", "status", "web"); code != exitError || !strings.Contains(errOut, `pool: unknown pool "web"`) {
		t.Fatalf("status of an unknown pool: %d %q", code, errOut)
	}
	if code, _, errOut := fleetctl("route", "policy", "set", "web", "--panic-threshold", "2"); code != exitError || !strings.Contains(errOut, "policy.panic_threshold") {
		t.Fatalf("bad threshold: %d %q", code, errOut)
	}
	if code, _, errOut := fleetctl("route", "policy", "set", "web", "--strategy", "random"); code != exitUsage || !strings.Contains(errOut, "least_connections") {
		t.Fatalf("unknown strategy: %d %q", code, errOut)
	}
	if code, out, errOut := fleetctl("route", "policy", "set", "web", "--strategy", "least_connections", "--slow-start", "0s"); code != exitOK || !strings.Contains(out, "least_connections") {
		t.Fatalf("policy set: %d %q %q", code, out, errOut)
	}
	if code, out, _ := fleetctl("route", "policy", "set", "web", "--consecutive-errors", "7"); code != exitOK {
		t.Fatalf("second policy set: %d %q", code, out)
	}
	code, out, _ := fleetctl("route", "policy", "get", "web")
	flat := strings.Join(strings.Fields(out), "") // protojson varies its spacing on purpose
	if code != exitOK || !strings.Contains(flat, `"strategy":"STRATEGY_LEAST_CONNECTIONS"`) || !strings.Contains(flat, `"consecutiveErrors":7`) {
		t.Fatalf("policy get after two edits kept both: %d\n%s", code, out)
	}

	cfg := agent.DefaultConfig()
	cfg.Server = cp.GRPCAddr()
	cfg.NodeID = "route-node"
	cfg.Pool = "web"
	cfg.AdvertiseAddr = "127.0.0.1:9555"
	cfg.Interval = 100 * time.Millisecond
	cfg.StateDir = t.TempDir()
	cfg.Logger = fleettest.Logger(t)
	a, err := agent.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	actx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.Run(actx) }()
	t.Cleanup(func() { stop(); <-done })

	fleettest.Eventually(t, 10*time.Second, "a pick", func() bool {
		code, out, _ := fleetctl("route", "pick", "web", "--key", "qa/123")
		return code == exitOK && strings.Contains(out, "route-node at 127.0.0.1:9555")
	})
	code, out, _ = fleetctl("route", "status", "web")
	if code != exitOK || !strings.Contains(out, "least_connections, 1 of 1 nodes healthy") || !strings.Contains(out, "route-node") {
		t.Fatalf("status: %d\n%s", code, out)
	}

	var watchOut syncBuffer
	wctx, cancelWatch := context.WithCancel(ctx)
	watchDone := make(chan int, 1)
	go func() { watchDone <- run(wctx, []string{"route", "watch", "web"}, &watchOut, &watchOut) }()
	fleettest.Eventually(t, 10*time.Second, "the watch to print the endpoint", func() bool {
		return strings.Contains(watchOut.String(), "route-node=127.0.0.1:9555 (weight 1)")
	})
	cancelWatch()
	if code := <-watchDone; code != exitOK {
		t.Fatalf("watch ended with %d: %s", code, watchOut.String())
	}
}
