package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dspyfleet/dspyfleet/internal/fleettest"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// TestConfigRollbackShowsWhatItDeletes: a hard budget set with "cost budget set" after
// revision 1 is a revision of its own, and "config rollback 1" shows that it deletes it before
// doing so: --dry-run prints the removed lines and keeps the budget, the rollback prints them
// and deletes it.
func TestConfigRollbackShowsWhatItDeletes(t *testing.T) {
	cp := fleettest.StartControlPlane(t, fleettest.FastConfig(t))
	t.Setenv("DSPYFLEET_ADDR", cp.GRPCAddr())
	ctx := context.Background()
	fleetctl := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := run(ctx, args, &out, &errOut)
		return code, out.String(), errOut.String()
	}
	doc := filepath.Join(t.TempDir(), "v1.yaml")
	if err := os.WriteFile(doc, []byte("routing:\n  web:\n    strategy: least_connections\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := fleetctl("config", "apply", doc, "-m", "least connections"); code != exitOK || !strings.Contains(out, "revision 1") {
		t.Fatalf("apply: %d %q %q", code, out, errOut)
	}
	if code, out, errOut := fleetctl("cost", "budget", "set", "gpu-day", "--period", "daily", "--limit", "50", "--hard"); code != exitOK {
		t.Fatalf("budget set: %d %q %q", code, out, errOut)
	}
	budgets := func() int {
		resp, err := fleetv1.NewCostServiceClient(fleettest.Dial(t, cp.GRPCAddr())).ListBudgets(ctx, &fleetv1.ListBudgetsRequest{})
		if err != nil {
			t.Fatal(err)
		}
		return len(resp.GetBudgets())
	}
	if code, out, _ := fleetctl("config", "history"); code != exitOK || !strings.Contains(out, "SetBudget gpu-day") {
		t.Fatalf("the budget made no revision: %d\n%s", code, out)
	}

	code, out, errOut := fleetctl("config", "rollback", "1", "--dry-run")
	if code != exitOK || !strings.Contains(out, "-    gpu-day:") || !strings.Contains(out, "-        hard: true") || !strings.Contains(out, "dry run: nothing applied") {
		t.Fatalf("rollback --dry-run: %d %q\n%s", code, errOut, out)
	}
	if n := budgets(); n != 1 {
		t.Fatalf("a dry run left %d budgets, want the 1 it had", n)
	}
	code, out, errOut = fleetctl("config", "rollback", "1", "-m", "back to 1")
	if code != exitOK || !strings.Contains(out, "-    gpu-day:") || !strings.Contains(out, "rolled back: revision 3") {
		t.Fatalf("rollback: %d %q\n%s", code, errOut, out)
	}
	if n := budgets(); n != 0 {
		t.Fatalf("%d budgets after the rollback, want 0", n)
	}
	if code, out, _ := fleetctl("config", "rollback", "3", "--dry-run"); code != exitOK || !strings.Contains(out, "revision 3 is the policy in effect: nothing changes") {
		t.Fatalf("rollback to the policy in effect: %d %q", code, out)
	}
}
