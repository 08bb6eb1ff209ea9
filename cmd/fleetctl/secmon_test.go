package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dspyfleet/dspyfleet/agent"
	"github.com/dspyfleet/dspyfleet/internal/fleettest"
)

// TestSecurityMonitoringAgainstControlPlane runs a real agent watching a real auth log, the
// host's socket table and a file, and reads the events back through fleetctl, a rule and
// /metrics.
func TestSecurityMonitoringAgainstControlPlane(t *testing.T) {
	cp := fleettest.StartControlPlane(t, fleettest.FastConfig(t))
	t.Setenv("DSPYFLEET_ADDR", cp.GRPCAddr())
	dir := t.TempDir()
	authLog, watched := filepath.Join(dir, "auth.log"), filepath.Join(dir, "app.yaml")
	if err := os.WriteFile(watched, []byte("v1"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := agent.DefaultConfig()
	cfg.Server, cfg.NodeID, cfg.Pool = cp.GRPCAddr(), "sec-1", "sec"
	cfg.Interval, cfg.StateDir, cfg.Logger = 100*time.Millisecond, t.TempDir(), fleettest.Logger(t)
	cfg.Security.AuthLog, cfg.Security.Listeners, cfg.Security.Files = authLog, true, []string{watched}
	cfg.Security.CheckInterval, cfg.Security.Poll = 50*time.Millisecond, 20*time.Millisecond
	a, err := agent.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	fleettest.Eventually(t, 10*time.Second, "sec-1 reporting", func() bool {
		r := runCLI(t, "nodes", "get", "sec-1")
		return r.code == exitOK && strings.Contains(r.stdout, "Security")
	})
	// Past the baseline: a new listener, a changed file, failed logins.
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	if err := os.WriteFile(watched, []byte("v2"), 0o600); err != nil {
		t.Fatal(err)
	}
	fleettest.Eventually(t, 10*time.Second, "the events in nodes get", func() bool {
		f, err := os.OpenFile(authLog, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = f.WriteString("Dec  3 10:00:01 sec-1 sshd[1]: Failed password for root from 203.0.113.9 port 1 ssh2\n")
		f.Close()
		r := runCLI(t, "nodes", "get", "sec-1")
		return r.code == exitOK && !strings.Contains(r.stdout, " 0 failed SSH") && strings.Contains(r.stdout, "tcp "+lis.Addr().String()) &&
			strings.Contains(r.stdout, watched)
	})
	rule := filepath.Join(dir, "rule.yaml")
	if err := os.WriteFile(rule, []byte("name: Intrusion\nscope: node\nseverity: critical\n"+
		"condition: node.security.ssh_failures > 0 && node.security.new_listeners > 0 && node.security.file_changed > 0\nnotify: [log]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := runCLI(t, "alerts", "test", rule); r.code != exitOK || !strings.Contains(r.stdout, "sec-1") || !strings.Contains(r.stdout, "true") {
		t.Fatalf("alerts test: %d %q %q", r.code, r.stdout, r.stderr)
	}
	resp, err := http.Get("http://" + cp.Server.HTTPAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `dspyfleet_node_security_events{kind="file_changed",node="sec-1",pool="sec"} 1`) {
		t.Fatalf("/metrics has no file_changed event of sec-1:\n%s", body)
	}
}
