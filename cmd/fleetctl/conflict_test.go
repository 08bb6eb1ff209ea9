package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/dspyfleet/dspyfleet/internal/fleettest"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// TestConfigApplyConflictAndFieldViolations: an exported document carries the etag of the
// policy it came from; applying it after another change fails with the conflict and how to
// retry, and an invalid value prints the field it is wrong in.
func TestConfigApplyConflictAndFieldViolations(t *testing.T) {
	cp := fleettest.StartControlPlane(t, fleettest.FastConfig(t))
	t.Setenv("DSPYFLEET_ADDR", cp.GRPCAddr())
	ctx := context.Background()
	fleetctl := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := run(ctx, args, &out, &errOut)
		return code, out.String(), errOut.String()
	}
	code, exported, errOut := fleetctl("config", "export")
	if code != exitOK || !strings.HasPrefix(exported, etagLine) {
		t.Fatalf("export: %d %q %q, want a document starting with %q", code, exported, errOut, etagLine)
	}
	edited := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(edited, []byte(strings.Replace(exported, "routing: {}", "routing:\n  web:\n    strategy: least_latency", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	// Another operator changes the policy after the export.
	rc := fleetv1.NewRoutingServiceClient(fleettest.Dial(t, cp.GRPCAddr()))
	if _, err := rc.SetPolicy(ctx, &fleetv1.RoutingServiceSetPolicyRequest{Pool: "api", Policy: &fleetv1.RoutingPolicy{}}); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = fleetctl("config", "apply", edited, "-m", "faster web")
	if code != exitError || !strings.Contains(errOut, "Aborted") || !strings.Contains(errOut, "export the policy again (fleetctl config export)") {
		t.Fatalf("apply after a concurrent change: %d %q, want Aborted with how to retry", code, errOut)
	}
	if pol, err := rc.GetPolicy(ctx, &fleetv1.RoutingServiceGetPolicyRequest{Pool: "web"}); err == nil && pol.GetConfigured() {
		t.Fatalf("the refused apply set web's policy: %v", pol)
	}

	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("routing:\n  web:\n    panic_threshold: 7\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = fleetctl("config", "apply", bad, "-m", "bad")
	if code != exitError || !strings.Contains(errOut, "InvalidArgument") || !strings.Contains(errOut, "  field policy.panic_threshold: 7 must be within") {
		t.Fatalf("apply with a bad panic threshold: %d %q, want the field violation printed", code, errOut)
	}
}

// TestEtagConflictsPrintHowToRetry: "alerts rule set --etag" and "cost budget set --update
// --etag" with an etag someone else's change made stale fail with the conflict and how to
// retry, and change nothing; with the etag fleetctl shows now, they go through, and --fields
// changes only the named field of the rule.
func TestEtagConflictsPrintHowToRetry(t *testing.T) {
	cp := fleettest.StartControlPlane(t, fleettest.FastConfig(t))
	t.Setenv("DSPYFLEET_ADDR", cp.GRPCAddr())
	ctx := context.Background()
	fleetctl := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := run(ctx, args, &out, &errOut)
		return code, out.String(), errOut.String()
	}
	dir := t.TempDir()
	full := filepath.Join(dir, "hot.yaml")
	if err := os.WriteFile(full, []byte("name: Hot\nscope: node\nseverity: info\ncondition: node.host.cpu > 90\nlabels: {team: serving}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := fleetctl("alerts", "rule", "set", full)
	etag, ok := strings.CutPrefix(strings.TrimSpace(out), "rule Hot stored (etag ")
	if code != exitOK || !ok {
		t.Fatalf("rule set: %d %q %q, want the rule stored with its etag", code, out, errOut)
	}
	etag = strings.TrimSuffix(etag, ")")
	if code, out, _ := fleetctl("alerts", "rules"); code != exitOK || !strings.Contains(out, etag) {
		t.Fatalf("alerts rules: %d %q, want the rule's etag %s listed", code, out, etag)
	}
	// Another operator changes the rule.
	ac := fleetv1.NewAlertServiceClient(fleettest.Dial(t, cp.GRPCAddr()))
	if _, err := ac.SetRule(ctx, &fleetv1.SetRuleRequest{Rule: &fleetv1.AlertRule{Name: "Hot", Scope: fleetv1.RuleScope_RULE_SCOPE_NODE,
		Severity: fleetv1.AlertSeverity_ALERT_SEVERITY_WARNING, Condition: "node.host.cpu > 80"}}); err != nil {
		t.Fatal(err)
	}
	partial := filepath.Join(dir, "cond.yaml")
	if err := os.WriteFile(partial, []byte("name: Hot\ncondition: node.host.cpu > 70\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = fleetctl("alerts", "rule", "set", partial, "--fields", "condition", "--etag", etag)
	if code != exitError || !strings.Contains(errOut, "Aborted") || !strings.Contains(errOut, "rule Hot changed since it was read") ||
		!strings.Contains(errOut, "  read the rule again (fleetctl alerts rules), redo the change on it and send it with its new etag (--etag)") {
		t.Fatalf("rule set with a stale etag: %d %q, want the conflict and how to retry", code, errOut)
	}
	rules, err := ac.ListRules(ctx, &fleetv1.ListRulesRequest{PageSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var now *fleetv1.AlertRule
	for _, r := range rules.GetRules() {
		if r.GetName() == "Hot" {
			now = r
		}
	}
	if now.GetCondition() != "node.host.cpu > 80" {
		t.Fatalf("the refused change stored condition %q", now.GetCondition())
	}
	if code, out, errOut := fleetctl("alerts", "rule", "set", partial, "--fields", "condition", "--etag", now.GetEtag()); code != exitOK {
		t.Fatalf("rule set with the current etag: %d %q %q", code, out, errOut)
	}
	rules, err = ac.ListRules(ctx, &fleetv1.ListRulesRequest{PageSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rules.GetRules() {
		if r.GetName() == "Hot" && (r.GetCondition() != "node.host.cpu > 70" || r.GetSeverity() != fleetv1.AlertSeverity_ALERT_SEVERITY_WARNING) {
			t.Fatalf("--fields condition stored %v; want the new condition and the stored severity", r)
		}
	}

	if code, out, errOut := fleetctl("cost", "budget", "set", "team", "--period", "daily", "--limit", "10"); code != exitOK {
		t.Fatalf("budget set: %d %q %q", code, out, errOut)
	}
	code, out, _ = fleetctl("cost", "budgets", "-o", "json")
	var listed fleetv1.ListBudgetsResponse
	if code != exitOK || protojson.Unmarshal([]byte(out), &listed) != nil || len(listed.GetBudgets()) != 1 {
		t.Fatalf("cost budgets -o json: %d %q", code, out)
	}
	stale := listed.GetBudgets()[0].GetBudget().GetEtag()
	if code, out, errOut := fleetctl("cost", "budget", "set", "team", "--update", "--limit", "20"); code != exitOK {
		t.Fatalf("budget set --update: %d %q %q", code, out, errOut)
	}
	code, _, errOut = fleetctl("cost", "budget", "set", "team", "--update", "--limit", "30", "--etag", stale)
	if code != exitError || !strings.Contains(errOut, "Aborted") || !strings.Contains(errOut, "budget team changed since it was read") ||
		!strings.Contains(errOut, "  read the budget again (fleetctl cost budgets)") {
		t.Fatalf("budget set with a stale etag: %d %q, want the conflict and how to retry", code, errOut)
	}
	code, _, errOut = fleetctl("cost", "budget", "delete", "team", "--etag", stale)
	if code != exitError || !strings.Contains(errOut, "Aborted") {
		t.Fatalf("budget delete with a stale etag: %d %q, want the conflict", code, errOut)
	}
	code, out, _ = fleetctl("cost", "budgets")
	if code != exitOK || !strings.Contains(out, "$20") {
		t.Fatalf("cost budgets after the refused changes: %d %q, want the limit of 20 set with --update", code, out)
	}
}
