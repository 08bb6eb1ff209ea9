package rules

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestCompileRefusesExpensiveConditions(t *testing.T) {
	for _, tc := range []struct {
		cond string
		ok   bool
	}{
		{`node.labels.exists(k, k.startsWith("gpu"))`, true},
		{`node.host.disk.exists(m, node.host.disk[m] > 90.0)`, true},
		{`node.id.matches("^gpu-")`, true},
		{`node.host.disk.all(a, node.host.disk.all(b, node.host.disk[a] >= node.host.disk[b]))`, false},
		{`node.labels.all(a, node.labels.all(b, node.labels.all(c, a != b || b != c)))`, false},
	} {
		_, err := Compile(Rule{Name: "r", Scope: ScopeNode, Severity: SeverityWarning, Condition: tc.cond}, Options{})
		if tc.ok {
			if err != nil {
				t.Errorf("%s: %v", tc.cond, err)
			}
			continue
		}
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "estimated cost is up to") ||
			!strings.Contains(err.Error(), fmt.Sprintf("over the limit of %d", MaxEstimatedCost)) {
			t.Errorf("%s: got %v, want a refusal giving the estimate and the limit", tc.cond, err)
		}
	}
}

// TestRuntimeCostLimit: a condition whose estimate passes but whose data is larger than the
// estimator assumes (more labels than --max-labels' default) is stopped at MaxEvalCost.
func TestRuntimeCostLimit(t *testing.T) {
	c := mustCompile(t, Rule{Name: "Labels", Condition: `node.labels.exists(k, k.startsWith("gpu"))`})
	snap := fleetOf(10)
	snap.Nodes[0].Labels = map[string]string{}
	for i := range 20_000 {
		snap.Nodes[0].Labels[fmt.Sprintf("label-%d", i)] = "x"
	}
	res := Evaluate(Input{Now: t0, Rules: []*Compiled{c}, Snapshot: snap})
	if len(res.Errors) != 1 || !strings.Contains(res.Errors[0].Err.Error(), "cost limit") {
		t.Fatalf("errors %+v, want the cost limit", res.Errors)
	}
}

// TestEvaluationBudget: once the budget is spent, the rules left are not evaluated, keep their
// alerts' states, and are reported cut off with an event.
func TestEvaluationBudget(t *testing.T) {
	now := t0
	clock := func() time.Time { now = now.Add(time.Millisecond); return now }
	hot := mustCompile(t, Rule{Name: "Hot", Condition: "node.host.cpu > 50.0"})
	late := mustCompile(t, Rule{Name: "Late", Condition: "node.host.cpu > 50.0"})
	snap := fleetOf(90, 90, 90, 90)
	prev := map[string]Alert{AlertKey("Late", "node/n4"): {Rule: "Late", Target: "node/n4", State: StateFiring, FiredAt: t0}}
	res := Evaluate(Input{Now: t0, Rules: []*Compiled{hot, late}, Snapshot: snap, Alerts: prev, Budget: 5 * time.Millisecond, Clock: clock})
	if len(res.CutOff) != 1 || res.CutOff[0] != (CutOff{Rule: "Late", Skipped: 4, Targets: 4}) {
		t.Fatalf("cut off %+v, want Late on all 4 targets", res.CutOff)
	}
	if a := res.Alerts[AlertKey("Hot", "node/n4")]; a.State != StateFiring {
		t.Errorf("Hot on n4 is %q, want firing: evaluated within the budget", a.State)
	}
	if a := res.Alerts[AlertKey("Late", "node/n4")]; a.State != StateFiring {
		t.Errorf("Late on n4 is %q, want its previous firing state", a.State)
	}
	var ev []Event
	for _, e := range res.Events {
		if e.Kind == EventCutOff {
			ev = append(ev, e)
		}
	}
	if len(ev) != 1 || ev[0].Rule != "Late" || !strings.Contains(ev[0].Message, "not evaluated on 4 of 4 targets") || !strings.Contains(ev[0].Message, "5ms") {
		t.Fatalf("cut-off events %+v", ev)
	}
	if res := Evaluate(Input{Now: t0, Rules: []*Compiled{hot, late}, Snapshot: snap, Clock: clock}); len(res.CutOff) != 0 {
		t.Fatalf("no budget, yet cut off %+v", res.CutOff)
	}
}
