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

func TestConfigRevisionsAgainstControlPlane(t *testing.T) {
	cfg := fleettest.FastConfig(t)
	cp := fleettest.StartControlPlane(t, cfg)
	t.Setenv("DSPYFLEET_ADDR", cp.GRPCAddr())
	ctx := context.Background()
	fleetctl := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := run(ctx, args, &out, &errOut)
		return code, out.String(), errOut.String()
	}
	dir := t.TempDir()
	file := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	strategy := func() fleetv1.Strategy {
		rc := fleetv1.NewRoutingServiceClient(fleettest.Dial(t, cp.GRPCAddr()))
		resp, err := rc.GetPolicy(ctx, &fleetv1.RoutingServiceGetPolicyRequest{Pool: "web"})
		if err != nil {
			return fleetv1.Strategy_STRATEGY_UNSPECIFIED
		}
		return resp.GetPolicy().GetStrategy()
	}

	v1 := file("v1.yaml", "routing:\n  web:\n    strategy: least_connections\n    panic_threshold: 0.3\n")
	if code, out, errOut := fleetctl("config", "apply", v1, "-m", "least connections for web"); code != exitOK || !strings.Contains(out, "revision 1") {
		t.Fatalf("apply v1: %d %q %q", code, out, errOut)
	}
	if got := strategy(); got != fleetv1.Strategy_STRATEGY_LEAST_CONNECTIONS {
		t.Fatalf("strategy after v1 = %v", got)
	}
	v2 := file("v2.yaml", "routing:\n  web:\n    strategy: consistent_hash\n    hash_load_factor: 0.5\n")
	if code, _, errOut := fleetctl("config", "apply", v2, "-m", "cache affinity"); code != exitOK {
		t.Fatalf("apply v2: %d %q", code, errOut)
	}
	if got := strategy(); got != fleetv1.Strategy_STRATEGY_CONSISTENT_HASH {
		t.Fatalf("strategy after v2 = %v", got)
	}

	// Bad documents change nothing and name what is wrong.
	for _, bad := range []struct{ body, want string }{
		{"routing:\n  web:\n    strategy: least_connections\n    panic_threshold: 2\n", "policy.panic_threshold"},
		{"routing:\n  web:\n    strategyy: round_robin\n", "strategyy"},
		{"routin:\n  web: {}\n", `unknown section "routin"`},
		{"routing:\n  web: [1, 2\n", "document:"},
	} {
		code, _, errOut := fleetctl("config", "apply", file("bad.yaml", bad.body), "-m", "bad")
		if code != exitError || !strings.Contains(errOut, "InvalidArgument") || !strings.Contains(errOut, bad.want) {
			t.Errorf("apply %q: %d %q, want InvalidArgument naming %s", bad.body, code, errOut, bad.want)
		}
	}
	if code, _, errOut := fleetctl("config", "apply", v1); code != exitUsage || !strings.Contains(errOut, "-m MESSAGE is required") {
		t.Errorf("apply without a message: %d %q", code, errOut)
	}
	if got := strategy(); got != fleetv1.Strategy_STRATEGY_CONSISTENT_HASH {
		t.Fatalf("a bad document changed the policy to %v", got)
	}

	code, out, _ := fleetctl("config", "diff", "1", "2")
	if code != exitOK || !strings.Contains(out, "-        strategy: least_connections") || !strings.Contains(out, "+        strategy: consistent_hash") {
		t.Fatalf("diff 1 2: %d\n%s", code, out)
	}
	if code, out, _ := fleetctl("config", "rollback", "1", "-m", "hash moved too many keys"); code != exitOK || !strings.Contains(out, "revision 3") {
		t.Fatalf("rollback: %d %q", code, out)
	}
	if got := strategy(); got != fleetv1.Strategy_STRATEGY_LEAST_CONNECTIONS {
		t.Fatalf("strategy after rollback = %v", got)
	}
	code, out, _ = fleetctl("config", "history")
	if code != exitOK || !strings.Contains(out, "hash moved too many keys (rollback to 1)") || strings.Index(out, "\n3 ") > strings.Index(out, "\n1 ") {
		t.Fatalf("history: %d\n%s", code, out)
	}

	// Revisions and the policy survive a restart; an empty routing section resets every pool.
	cp.Stop(t)
	cp = fleettest.StartControlPlane(t, cfg)
	t.Setenv("DSPYFLEET_ADDR", cp.GRPCAddr())
	if code, out, _ := fleetctl("config", "show", "3"); code != exitOK || !strings.Contains(out, "strategy: least_connections") {
		t.Fatalf("show 3 after restart: %d %q", code, out)
	}
	if code, out, _ := fleetctl("config", "diff", "3"); code != exitOK || out != "" {
		t.Fatalf("revision 3 differs from the policy in effect: %d %q", code, out)
	}
	if code, _, errOut := fleetctl("config", "apply", file("empty.yaml", "routing: {}\n"), "-m", "defaults everywhere"); code != exitOK {
		t.Fatalf("apply empty routing: %d %q", code, errOut)
	}
	if code, out, _ := fleetctl("config", "export"); code != exitOK || !strings.Contains(out, "routing: {}") {
		t.Fatalf("export after reset: %d %q", code, out)
	}
	if code, _, errOut := fleetctl("config", "show", "99"); code != exitNotFound || !strings.Contains(errOut, "NotFound") {
		t.Fatalf("show 99: %d %q", code, errOut)
	}

	// The scaling section: applied, exported, and replaced as a whole.
	sc := fleetv1.NewScalingServiceClient(fleettest.Dial(t, cp.GRPCAddr()))
	scaled := file("scaling.yaml", "scaling:\n  web:\n    min: 1\n    max: 4\n")
	if code, _, errOut := fleetctl("config", "apply", scaled, "-m", "scale web"); code != exitOK {
		t.Fatalf("apply scaling: %d %q", code, errOut)
	}
	got, err := sc.GetPolicy(ctx, &fleetv1.ScalingServiceGetPolicyRequest{Pool: "web"})
	if err != nil || got.GetPolicy().GetMax() != 4 {
		t.Fatalf("scaling policy after apply: %v, %v", got, err)
	}
	if code, out, _ := fleetctl("config", "export"); code != exitOK || !strings.Contains(out, "scaling:\n    web:") || !strings.Contains(out, "max: 4") {
		t.Fatalf("export with scaling: %d\n%s", code, out)
	}
	if code, _, errOut := fleetctl("config", "apply", file("bad-scaling.yaml", "scaling:\n  web:\n    min: 5\n    max: 4\n"), "-m", "bad"); code != exitError || !strings.Contains(errOut, "scaling.web") {
		t.Fatalf("min above max: %d %q", code, errOut)
	}
	if code, _, errOut := fleetctl("config", "apply", file("unscaled.yaml", "scaling: {}\n"), "-m", "stop scaling"); code != exitOK {
		t.Fatalf("apply empty scaling: %d %q", code, errOut)
	}
	if _, err := sc.GetPolicy(ctx, &fleetv1.ScalingServiceGetPolicyRequest{Pool: "web"}); err == nil {
		t.Fatal("web is still scaled after an empty scaling section")
	}

	// Budgets and prices: applied, exported, and a budget left out is deleted.
	cc := fleetv1.NewCostServiceClient(fleettest.Dial(t, cp.GRPCAddr()))
	money := file("money.yaml", `budgets:
  web-daily: {period: BUDGET_PERIOD_DAILY, limit_usd: 50, pool: web, hard: true}
  fleet-monthly: {period: BUDGET_PERIOD_MONTHLY, limit_usd: 900}
prices:
  instances: [{instance_type: m.large, on_demand_hourly: 0.1}]
`)
	if code, _, errOut := fleetctl("config", "apply", money, "-m", "budgets"); code != exitOK {
		t.Fatalf("apply budgets: %d %q", code, errOut)
	}
	budgets, err := cc.ListBudgets(ctx, &fleetv1.ListBudgetsRequest{})
	if err != nil || len(budgets.GetBudgets()) != 2 {
		t.Fatalf("budgets after apply: %v, %v", budgets, err)
	}
	prices, err := cc.GetPrices(ctx, &fleetv1.GetPricesRequest{})
	if err != nil || len(prices.GetPrices().GetInstances()) != 1 {
		t.Fatalf("prices after apply: %v, %v", prices, err)
	}
	if code, _, errOut := fleetctl("config", "apply", file("bad-money.yaml", "budgets:\n  x: {period: BUDGET_PERIOD_DAILY, limit_usd: -1}\n"), "-m", "bad"); code != exitError || !strings.Contains(errOut, "budgets.x") {
		t.Fatalf("negative limit: %d %q", code, errOut)
	}
	if code, _, errOut := fleetctl("config", "apply", file("one-budget.yaml", "budgets:\n  fleet-monthly: {period: BUDGET_PERIOD_MONTHLY, limit_usd: 900}\n"), "-m", "one budget"); code != exitOK {
		t.Fatalf("apply one budget: %d %q", code, errOut)
	}
	if budgets, err = cc.ListBudgets(ctx, &fleetv1.ListBudgetsRequest{}); err != nil || len(budgets.GetBudgets()) != 1 || budgets.GetBudgets()[0].GetBudget().GetName() != "fleet-monthly" {
		t.Fatalf("budgets after the second apply: %v, %v", budgets, err)
	}
	// An exported document applies back unchanged.
	_, exported, _ := fleetctl("config", "export")
	if code, _, errOut := fleetctl("config", "apply", file("exported.yaml", exported), "-m", "round trip"); code != exitOK {
		t.Fatalf("apply the export: %d %q\n%s", code, errOut, exported)
	}
	if code, out, _ := fleetctl("config", "diff", "8", "9"); code != exitOK || out != "" {
		t.Fatalf("applying the export changed the policy: %d %q", code, out)
	}
	_, again, _ := fleetctl("config", "export")
	if again != exported {
		t.Fatalf("export changed after applying it:\n%s\nthen\n%s", exported, again)
	}
}
