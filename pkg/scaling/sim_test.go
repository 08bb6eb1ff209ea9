package scaling

import (
	"fmt"
	"strings"
	"testing"
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
