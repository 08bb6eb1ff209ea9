package main

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// buildBinaries builds the control plane and the agent into a test directory.
func buildBinaries(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-o", dir+"/", "../../cmd/dspyfleet-controlplane", "../../cmd/dspyfleet-agent")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return dir
}

// TestHarnessSmoke runs the agents and failover figures at a tiny scale against the real
// control plane binary and checks every row is complete: all agents ready and fresh, every
// command acknowledged, every probe's transition seen.
func TestHarnessSmoke(t *testing.T) {
	bin := buildBinaries(t)
	ctx := context.Background()
	var out, errOut bytes.Buffer
	if err := run(ctx, []string{"agents", "--bin", bin, "--counts", "20", "--hold", "2s", "--interval", "500ms", "--commands", "10"}, &out, &errOut); err != nil {
		t.Fatalf("agents: %v\n%s", err, errOut.String())
	}
	rows := strings.Split(strings.TrimSpace(out.String()), "\n")
	cells := strings.Split(rows[len(rows)-1], "|")
	// | agents | ready | fresh | reports/s | cpu | rss | peak | p50 | p99 | timeouts | ...
	if got := []string{strings.TrimSpace(cells[1]), strings.TrimSpace(cells[2]), strings.TrimSpace(cells[3]), strings.TrimSpace(cells[10])}; got[0] != "20" || got[1] != "20" || got[2] != "20" || got[3] != "0" {
		t.Errorf("agents row %q: want 20 agents, 20 ready, 20 fresh, 0 commands timed out", rows[len(rows)-1])
	}
	out.Reset()
	if err := run(ctx, []string{"failover", "--bin", bin, "--agents", "6", "--trials", "2", "--interval", "200ms", "--", "--ttl-grace", "200ms", "--liveness-check", "50ms"}, &out, &errOut); err != nil {
		t.Fatalf("failover: %v\n%s", err, errOut.String())
	}
	if n := strings.Count(out.String(), "\n| "); n != 5 {
		t.Errorf("failover printed %d table rows, want a header and 4 probes:\n%s", n, out.String())
	}
}
