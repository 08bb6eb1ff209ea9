package agent_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dspyfleet/dspyfleet/agent"
	"github.com/dspyfleet/dspyfleet/internal/fleettest"
)

// TestAgentMetrics: with --metrics-listen on loopback the agent serves its own /metrics: its
// build, its session and report delivery, and the Go runtime's and process's series; an address
// beyond loopback is refused, and the default serves nothing.
func TestAgentMetrics(t *testing.T) {
	cp := fleettest.StartControlPlane(t, fleettest.FastConfig(t))
	cfg := agent.DefaultConfig()
	cfg.Server, cfg.NodeID, cfg.Interval = cp.GRPCAddr(), "metered", 100*time.Millisecond
	cfg.StateDir, cfg.Logger, cfg.MetricsListen = t.TempDir(), fleettest.Logger(t), "127.0.0.1:0"
	a, err := agent.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("agent: %v", err)
		}
	})
	scrape := func() string {
		resp, err := http.Get("http://" + a.MetricsAddr() + "/metrics")
		if err != nil {
			return ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	fleettest.Eventually(t, 10*time.Second, "the agent connected, in its metrics", func() bool {
		return strings.Contains(scrape(), "\ndspyfleet_agent_connected 1\n")
	})
	body := scrape()
	for _, want := range []string{`dspyfleet_agent_build_info{goversion="go`, "dspyfleet_agent_sessions_total 1", "dspyfleet_agent_reports_buffered ",
		"dspyfleet_agent_reports_dropped_total 0", "dspyfleet_agent_report_acked_seq ", "go_goroutines ", "process_resident_memory_bytes "} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	for _, addr := range []string{"0.0.0.0:9105", "10.0.0.1:9105", ":9105", "9105"} {
		bad := cfg
		bad.MetricsListen = addr
		if err := agent.CheckConfig(bad); err == nil || !strings.Contains(err.Error(), "--metrics-listen") {
			t.Errorf("--metrics-listen %s: %v, want it refused", addr, err)
		}
	}
	if d := agent.DefaultConfig(); d.MetricsListen != "" {
		t.Errorf("the agent serves metrics by default on %s", d.MetricsListen)
	}
}
