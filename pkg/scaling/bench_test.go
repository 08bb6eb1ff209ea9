package scaling

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkDecide1000Nodes is one pool's decision per tick at 1,000 nodes: every metric
// targeted, two rules, five minutes of history at a 5 s tick, and a scale-down that chooses
// victims among the 1,000 nodes.
func BenchmarkDecide1000Nodes(b *testing.B) {
	const n = 1000
	p := DefaultPolicy(1, 2000)
	p.ScaleDown.Policies = nil
	p.Victims = []VictimOrder{SpotLast, MostExpensive, LeastLoaded, Newest}
	obs := map[Metric]float64{}
	for _, m := range Metrics() {
		p.Targets = append(p.Targets, Target{Metric: m, Value: 1})
		obs[m] = 0.5
	}
	p.Rules = []Rule{
		{Name: "hot", Metric: MetricCPU, Comparison: Above, Threshold: 90, For: time.Minute, Action: ScaleUp, Amount: 10, Unit: Percent},
		{Name: "idle", Metric: MetricRPS, Comparison: Below, Threshold: 0.1, For: time.Minute, Action: ScaleDown, Amount: 1, Unit: Nodes},
	}
	nodes := make([]Node, n)
	for i := range nodes {
		nodes[i] = Node{ID: fmt.Sprintf("node-%04d", i), Ready: true, HourlyPrice: float64(i % 7), Load: float64(i % 13),
			Spot: i%3 == 0, Started: t0.Add(time.Duration(i) * time.Minute)}
	}
	var st State
	for i := range 60 {
		st.Recommendations = append(st.Recommendations, Sample{Time: t0.Add(time.Duration(i) * 5 * time.Second), Nodes: n / 2})
	}
	snap := Snapshot{Now: t0.Add(301 * time.Second), Current: n, Ready: n, Observed: obs, Nodes: nodes}
	b.ReportAllocs()
	for b.Loop() {
		d, _ := Decide(p, st, snap)
		if d.Desired != 500 {
			b.Fatalf("desired %d: %s", d.Desired, d.Reason)
		}
	}
}
