package rules

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkEvaluateDefaults evaluates the default rules on a fleet of 1000 nodes in 10 pools:
// one reconcile tick of a large fleet.
func BenchmarkEvaluateDefaults(b *testing.B) {
	var compiled []*Compiled
	for _, r := range Defaults() {
		c, err := Compile(r, Options{Channels: []string{LogChannel}})
		if err != nil {
			b.Fatal(err)
		}
		compiled = append(compiled, c)
	}
	var snap Snapshot
	for p := range 10 {
		snap.Pools = append(snap.Pools, Pool{Name: fmt.Sprintf("pool-%d", p), Nodes: 100, Healthy: 100})
	}
	for i := range 1000 {
		snap.Nodes = append(snap.Nodes, Node{
			ID: fmt.Sprintf("node-%04d", i), Pool: fmt.Sprintf("pool-%d", i%10), State: "ready", Up: true,
			Labels: map[string]string{"zone": "a"},
			Host:   Host{CPU: 40, Memory: 60, Disk: map[string]float64{"/": 50, "/data": 70}, DiskMax: 70},
			DSPy:   DSPy{Requests: 1000, Errors: 10, ErrorRate: 0.01, P95Ms: 800},
		})
	}
	now := time.Unix(1e9, 0)
	bl := UpdateBaselines(nil, snap, now, DefaultBaselineOptions())
	in := Input{Now: now, Rules: compiled, Snapshot: snap, Baselines: bl, BaselineOptions: DefaultBaselineOptions(),
		Policy: DefaultHealingPolicy(), DefaultRepeat: time.Hour}
	b.ReportAllocs()
	for b.Loop() {
		res := Evaluate(in)
		if len(res.Errors) > 0 {
			b.Fatal(ErrorsOf(res))
		}
	}
}

// BenchmarkEvaluateCostliestAllowed evaluates, on 100 nodes with 64 labels each (the
// --max-labels default), a condition near MaxEstimatedCost that walks every label: the most one
// accepted rule costs the alert step at that fleet size.
func BenchmarkEvaluateCostliestAllowed(b *testing.B) {
	c, err := Compile(Rule{Name: "Walk", Scope: ScopeNode, Severity: SeverityWarning,
		Condition: `node.labels.exists(k, k.startsWith("gpu") && node.labels[k].size() > 300)`}, Options{})
	if err != nil {
		b.Fatal(err)
	}
	var snap Snapshot
	snap.Pools = []Pool{{Name: "p", Nodes: 100, Healthy: 100}}
	for i := range 100 {
		n := Node{ID: fmt.Sprintf("node-%03d", i), Pool: "p", State: "ready", Up: true, Labels: map[string]string{}}
		for j := range 64 {
			n.Labels[fmt.Sprintf("gpu-%d", j)] = "x"
		}
		snap.Nodes = append(snap.Nodes, n)
	}
	in := Input{Now: time.Unix(1e9, 0), Rules: []*Compiled{c}, Snapshot: snap}
	b.ReportAllocs()
	for b.Loop() {
		if res := Evaluate(in); len(res.Errors) > 0 {
			b.Fatal(ErrorsOf(res))
		}
	}
}
