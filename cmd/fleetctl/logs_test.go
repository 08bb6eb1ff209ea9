package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dspyfleet/dspyfleet/agent"
	"github.com/dspyfleet/dspyfleet/internal/fleettest"
)

// TestLogsAgainstControlPlane runs a real agent following a real log file through a rotation
// and reads its templates back through fleetctl, a rule and /metrics.
func TestLogsAgainstControlPlane(t *testing.T) {
	cp := fleettest.StartControlPlane(t, fleettest.FastConfig(t))
	t.Setenv("DSPYFLEET_ADDR", cp.GRPCAddr())
	dir := t.TempDir()
	logFile := filepath.Join(dir, "dspy.log")
	cfg := agent.DefaultConfig()
	cfg.Server, cfg.NodeID, cfg.Pool = cp.GRPCAddr(), "log-1", "logs"
	cfg.Interval, cfg.StateDir, cfg.Logger = 100*time.Millisecond, t.TempDir(), fleettest.Logger(t)
	cfg.Logs.Files, cfg.Logs.Poll, cfg.Logs.SampleErrors = []string{logFile}, 20*time.Millisecond, true
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
	appendLine := func(line string) {
		f, err := os.OpenFile(logFile, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteString(line + "\n"); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	fleettest.Eventually(t, 10*time.Second, "the info template in logs top", func() bool {
		n++
		appendLine(fmt.Sprintf("INFO served request %d in %dms", n, n%40))
		r := runCLI(t, "logs", "top", "--pool", "logs")
		return r.code == exitOK && strings.Contains(r.stdout, "INFO served request <*> in <*>")
	})
	// logrotate's create mode: the agent must carry on with the new file.
	if err := os.Rename(logFile, logFile+".1"); err != nil {
		t.Fatal(err)
	}
	fleettest.Eventually(t, 10*time.Second, "the new error template after the rotation", func() bool {
		n++
		appendLine(fmt.Sprintf("ERROR timeout calling model gpt-4o after %ds", n))
		r := runCLI(t, "logs", "templates", "log-1")
		return r.code == exitOK && strings.Contains(r.stdout, "ERROR timeout calling model <*> after <*>") &&
			strings.Contains(r.stdout, "NEW") && strings.Contains(r.stdout, "Recent errors of")
	})

	rule := filepath.Join(dir, "rule.yaml")
	if err := os.WriteFile(rule, []byte("name: NewErrors\nscope: node\nseverity: warning\n"+
		"condition: node.logs.new_templates > 0 && node.logs.errors > 0\nnotify: [log]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fleettest.Eventually(t, 10*time.Second, "the log rule holding on log-1", func() bool {
		n++
		appendLine(fmt.Sprintf("ERROR timeout calling model gpt-4o after %ds", n))
		r := runCLI(t, "alerts", "test", rule)
		return r.code == exitOK && strings.Contains(r.stdout, "log-1") && strings.Contains(r.stdout, "true")
	})
	resp, err := http.Get("http://" + cp.Server.HTTPAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `dspyfleet_node_log_new_templates{node="log-1",pool="logs"}`) {
		t.Fatalf("/metrics has no log gauge of log-1:\n%s", body)
	}

	if r := runCLI(t, "logs", "templates", "nope"); r.code != exitNotFound || !strings.Contains(r.stderr, "NotFound") {
		t.Fatalf("logs templates of an unknown node: %d %q", r.code, r.stderr)
	}
	if r := runCLI(t, "logs", "top", "--limit", "5000"); r.code != exitUsage {
		t.Fatalf("logs top --limit 5000: exit %d, want %d", r.code, exitUsage)
	}
}
