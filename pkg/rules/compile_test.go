package rules

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestDefaultsCompile(t *testing.T) {
	for _, r := range Defaults() {
		if _, err := Compile(r, Options{Channels: []string{LogChannel}}); err != nil {
			t.Errorf("default rule %s: %v", r.Name, err)
		}
	}
}

func TestCompileRejects(t *testing.T) {
	base := Rule{Name: "r", Scope: ScopeNode, Severity: SeverityWarning, Condition: "node.host.cpu > 90"}
	tests := []struct {
		name string
		edit func(*Rule)
		want []string // substrings of the error
	}{
		{"not bool", func(r *Rule) { r.Condition = "node.host.cpu + 1.0" }, []string{"condition", "1:1", "double, not bool"}},
		{"unknown field", func(r *Rule) { r.Condition = "node.host.cpux > 1" }, []string{"condition", "1:10", "undefined field 'cpux'"}},
		{"syntax", func(r *Rule) { r.Condition = "node.host.cpu >" }, []string{"condition", "1:16"}},
		{"wrong scope variable", func(r *Rule) { r.Scope = ScopePool; r.Condition = "node.up" }, []string{"undeclared reference to 'node'"}},
		{"baseline metric", func(r *Rule) { r.Condition = `zscore("latency") > 4` }, []string{"1:8", "unknown metric latency"}},
		{"hour baseline metric", func(r *Rule) { r.Condition = `zscore_tod("cpu") > 4` }, []string{"zscore_tod: unknown metric cpu"}},
		{"baseline not literal", func(r *Rule) { r.Condition = `baseline(node.id) > 4` }, []string{"quoted metric name"}},
		{"negative for", func(r *Rule) { r.For = -time.Second }, []string{"for -1s"}},
		{"empty condition", func(r *Rule) { r.Condition = "" }, []string{"condition is empty"}},
		{"bad name", func(r *Rule) { r.Name = "1 rule" }, []string{"name"}},
		{"bad scope", func(r *Rule) { r.Scope = "cluster" }, []string{`scope "cluster"`}},
		{"bad severity", func(r *Rule) { r.Severity = "page" }, []string{`severity "page"`}},
		{"unknown channel", func(r *Rule) { r.Notify = []string{"pager"} }, []string{`notify[0]: unknown channel "pager"`}},
		{"unknown action", func(r *Rule) { r.Action = &Action{Kind: "reboot"} }, []string{`action.kind "reboot"`}},
		{"bad action param", func(r *Rule) { r.Action = &Action{Kind: ActionScale} }, []string{"action.", "instances is required"}},
		{"action on pool", func(r *Rule) {
			r.Scope, r.Condition, r.Action = ScopePool, "pool.healthy < 1", &Action{Kind: ActionRestart}
		}, []string{"only node rules can act"}},
		{"bad template", func(r *Rule) { r.Annotations = map[string]string{"summary": "{{.Node.ID"} }, []string{"annotations.summary"}},
		{"bad label", func(r *Rule) { r.Labels = map[string]string{"a-b": "x"} }, []string{"labels.a-b"}},
		{"urgent without an action", func(r *Rule) { r.Urgent = true }, []string{"urgent: only a rule with an action"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := base
			tc.edit(&r)
			_, err := Compile(r, Options{Channels: []string{LogChannel}})
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Compile = %v, want ErrInvalid", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestCompileAccepts(t *testing.T) {
	for _, c := range []struct {
		scope Scope
		cond  string
	}{
		{ScopeNode, `node.host.disk["/"] > 90 && node.labels["zone"] == "a"`},
		{ScopeNode, `zscore("p95_ms") > 4.0 && node.dspy.p95_ms > baseline("p95_ms")`},
		{ScopeNode, `node.dspy.requests > 100 && pool.healthy >= 2 && fleet.nodes > 1`},
		{ScopePool, `pool.healthy < pool.nodes / 2`},
		{ScopeFleet, `fleet.dspy.error_rate > 0.1`},
		{ScopeNode, `node.host.disk.exists(m, node.host.disk[m] > 90.0)`},
		{ScopePool, `zscore_tod("rps") < -3.0 && pool.dspy.rps < baseline_tod("rps") / 2.0`},
	} {
		if _, err := Compile(Rule{Name: "r", Scope: c.scope, Severity: SeverityInfo, Condition: c.cond}, Options{}); err != nil {
			t.Errorf("%s: %v", c.cond, err)
		}
	}
}

func FuzzCompile(f *testing.F) {
	f.Add("node", `node.host.cpu > 90`, "{{.Node.ID}}", int64(0))
	f.Add("pool", `pool.healthy < 1 || zscore("rps") > 3.0`, "", int64(60))
	f.Add("fleet", `fleet.dspy.error_rate`, "{{", int64(-1))
	f.Add("node", `node.host.disk.all(k, node.host.disk[k] < 1e9)`, "{{.Params.x}}", int64(1))
	f.Fuzz(func(t *testing.T, scope, cond, annotation string, forSeconds int64) {
		r := Rule{Name: "fuzz", Scope: Scope(scope), Severity: SeverityWarning, Condition: cond,
			For: time.Duration(forSeconds) * time.Second, Annotations: map[string]string{"summary": annotation}}
		c, err := Compile(r, Options{})
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		snap := Snapshot{
			Nodes: []Node{{ID: "n1", Pool: "p", State: "ready", Up: true, Host: Host{Disk: map[string]float64{"/": 50}}}},
			Pools: []Pool{{Name: "p", Nodes: 1, Healthy: 1}},
		}
		res := Evaluate(Input{Now: time.Unix(1e9, 0), Rules: []*Compiled{c}, Snapshot: snap, DefaultRepeat: time.Hour})
		for _, a := range res.Alerts {
			if a.State != StatePending && a.State != StateFiring {
				t.Fatalf("first evaluation left alert in %s", a.State)
			}
		}
	})
}
