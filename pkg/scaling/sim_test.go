package scaling

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

// examplePolicy is the policy the README's simulator table uses.
const examplePolicy = `{
  "min": 1, "max": 60,
  "targets": [{"metric": "requests_per_second_per_node", "value": 10}],
  "predictive": {"metric": "requests_per_second_per_node", "horizon": "1h", "lead_time": "5m"},
  "simulation": {"capacity_per_node": 16, "lead_time": "3m", "tick": "15s"}
}`

func TestSimulateBuiltinTraces(t *testing.T) {
	p, sim, err := ParsePolicyFile([]byte(examplePolicy))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range BuiltinTraces {
		tr, err := BuiltinTrace(name, 1)
		if err != nil {
			t.Fatal(err)
		}
		res := Simulate(p, sim, tr, 1)
		again := Simulate(p, sim, tr, 1)
		if fmt.Sprint(res) != fmt.Sprint(again) {
			t.Fatalf("%s: two runs with one seed differ:\n%v\n%v", name, res, again)
		}
		for _, r := range res {
			t.Logf("%-8s %-20s node-hours %7.1f  over latency %6.1f min  over capacity %6.1f min  actions %4d  peak %3d  %s",
				name, r.Mode, r.NodeHours, r.MinutesOverLatency, r.MinutesOverCapacity, r.Actions, r.PeakNodes, r.Note)
		}
		static, reactive, pred := res[0], res[1], res[2]
		// A steady load needs the peak's fleet all along; elsewhere scaling saves node-hours.
		if static.Actions != 0 || reactive.NodeHours > static.NodeHours*1.02 || (name != "steady" && reactive.NodeHours > static.NodeHours/2) {
			t.Errorf("%s: static %+v, reactive %+v: reactive should use fewer node-hours", name, static, reactive)
		}
		if name == "diurnal" && (pred.MinutesOverLatency >= reactive.MinutesOverLatency || !strings.Contains(pred.Note, "MAPE")) {
			t.Errorf("diurnal: predictive %+v should spend less time over the latency target than reactive %+v", pred, reactive)
		}
		if name != "diurnal" && !strings.Contains(pred.Note, "never on") {
			t.Errorf("%s: the forecast cannot be on within 6 h: %q", name, pred.Note)
		}
	}
}

// TestStaticLoadMeetsThePolicysTargets: the static baseline was sized at 100 % of a node's
// capacity for every policy without a requests-per-second target, so it looked cheaper than any
// scaler keeping CPU at 70 %. It is sized where the capacity model meets the targets.
func TestStaticLoadMeetsThePolicysTargets(t *testing.T) {
	sim := DefaultSimulation() // 16 requests/s per node, 200 ms base latency
	tests := []struct {
		name    string
		targets []Target
		want    float64
	}{
		{"requests per second", []Target{{Metric: MetricRPS, Value: 12}}, 12},
		{"cpu 70 %", []Target{{Metric: MetricCPU, Value: 70}}, 16 * 0.7},
		{"latency 400 ms: rho 0.5", []Target{{Metric: MetricLatencyP95, Value: 400}}, 8},
		{"the tighter of two", []Target{{Metric: MetricCPU, Value: 80}, {Metric: MetricRPS, Value: 10}}, 10},
		{"a target above what a node can show", []Target{{Metric: MetricCPU, Value: 100}}, 16},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := DefaultPolicy(1, 100)
			p.Targets = tt.targets
			if got := staticLoad(p, sim); math.Abs(got-tt.want) > 1e-6 {
				t.Errorf("static load per node %v, want %v", got, tt.want)
			}
		})
	}
}

// TestSkippedModeIsMarked: a mode that could not run was printed as an all-zero row.
func TestSkippedModeIsMarked(t *testing.T) {
	p := DefaultPolicy(1, 10)
	p.Targets = []Target{{Metric: MetricRPS, Value: 10}}
	p.Predictive.LeadTime = -time.Minute // the predictive copy fails its validation
	tr, err := BuiltinTrace("steady", 1)
	if err != nil {
		t.Fatal(err)
	}
	res := Simulate(p, DefaultSimulation(), tr, 1)
	if last := res[len(res)-1]; last.Mode != ModePredictive || !last.Skipped || !strings.HasPrefix(last.Note, "not run: ") {
		t.Fatalf("predictive result %+v, want it marked skipped with why", last)
	}
	for _, r := range res[:len(res)-1] {
		if r.Skipped {
			t.Errorf("%s marked skipped", r.Mode)
		}
	}
}
