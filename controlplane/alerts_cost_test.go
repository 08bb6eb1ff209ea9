package controlplane_test

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/dspyfleet/dspyfleet/internal/fleettest"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// TestExpensiveRuleRefused: a condition whose estimated cost is over the limit (nested
// comprehensions) is refused at SetRule with the estimate and the limit, and is not stored.
func TestExpensiveRuleRefused(t *testing.T) {
	cp := fleettest.StartControlPlane(t, fleettest.FastConfig(t))
	c := alertClient(t, cp)
	ctx := context.Background()
	rule := &fleetv1.AlertRule{
		Name: "Quadratic", Scope: fleetv1.RuleScope_RULE_SCOPE_NODE, Severity: fleetv1.AlertSeverity_ALERT_SEVERITY_WARNING,
		Condition: `node.host.disk.all(a, node.host.disk.all(b, node.labels.all(k, node.host.disk[a] >= node.host.disk[b])))`,
	}
	_, err := c.SetRule(ctx, &fleetv1.SetRuleRequest{Rule: rule})
	if msg := status.Convert(err).Message(); status.Code(err) != codes.InvalidArgument ||
		!regexp.MustCompile(`estimated cost is up to \d+, over the limit of 10000`).MatchString(msg) {
		t.Fatalf("SetRule of a nested comprehension = %v, want InvalidArgument with the estimate and the limit", err)
	}
	rules, err := c.ListRules(ctx, &fleetv1.ListRulesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rules.GetRules() {
		if r.GetName() == "Quadratic" {
			t.Fatal("the refused rule is stored")
		}
	}
	rule.Condition = `node.host.disk.exists(m, node.host.disk[m] > 95.0)`
	if _, err := c.SetRule(ctx, &fleetv1.SetRuleRequest{Rule: rule}); err != nil {
		t.Fatalf("a single comprehension over the disks: %v", err)
	}
}

// TestAlertStepBudget: rules the step's time budget cuts off are counted in
// dspyfleet_alert_rules_cut_off_total and recorded as cutoff events.
func TestAlertStepBudget(t *testing.T) {
	cfg := fleettest.FastConfig(t)
	cfg.Alerts.StepBudget = time.Nanosecond
	cp := fleettest.StartControlPlane(t, cfg)
	c := alertClient(t, cp)
	ctx := context.Background()
	var ev *fleetv1.AlertEvent
	fleettest.Eventually(t, 10*time.Second, "a cutoff event", func() bool {
		evs, err := c.ListEvents(ctx, &fleetv1.AlertServiceListEventsRequest{})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs.GetEvents() {
			if e.GetKind() == "cutoff" {
				ev = e
				return true
			}
		}
		return false
	})
	if !strings.Contains(ev.GetMessage(), "time budget of 1ns was spent") || ev.GetRule() == "" {
		t.Errorf("cutoff event %v", ev)
	}
	resp, err := http.Get("http://" + cp.HTTPAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^dspyfleet_alert_rules_cut_off_total (\S+)$`).FindSubmatch(body)
	if m == nil {
		t.Fatal("/metrics lacks dspyfleet_alert_rules_cut_off_total")
	}
	if n, _ := strconv.ParseFloat(string(m[1]), 64); n < 1 {
		t.Fatalf("dspyfleet_alert_rules_cut_off_total %s, want at least 1", m[1])
	}
}
