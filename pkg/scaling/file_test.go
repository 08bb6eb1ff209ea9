package scaling

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParsePolicyFile(t *testing.T) {
	p, sim, err := ParsePolicyFile([]byte(`{
	  "min": 0, "max": 8, "wake_size": 2,
	  "targets": [{"metric": "cpu_percent", "value": 60}, {"metric": "requests_per_second_per_node", "value": 12}],
	  "rules": [{"name": "q", "metric": "queue_length_per_node", "comparison": ">", "threshold": 5, "for": "30s", "action": "scale_up", "amount": 1}],
	  "scale_down": {"stabilization_window": "2m", "policies": []},
	  "victims": ["spot_last"],
	  "simulation": {"capacity_per_node": 20, "tick": "5s"}
	}`))
	if err != nil {
		t.Fatal(err)
	}
	def := DefaultPolicy(0, 8)
	switch {
	case p.Min != 0 || p.Max != 8 || p.WakeSize != 2 || len(p.Targets) != 2:
		t.Fatalf("sizes and targets: %+v", p)
	case p.Rules[0].For != 30*time.Second || p.Rules[0].Unit != Nodes || p.Rules[0].Cooldown != DefaultRuleCooldown:
		t.Fatalf("rule: %+v", p.Rules[0])
	case p.ScaleDown.StabilizationWindow != 2*time.Minute || p.ScaleDown.Policies != nil:
		t.Fatalf("scale_down: %+v", p.ScaleDown)
	case len(p.ScaleUp.Policies) != len(def.ScaleUp.Policies) || p.Tolerance != DefaultTolerance:
		t.Fatalf("absent keys lost their defaults: %+v", p)
	case sim.CapacityPerNode != 20 || sim.Tick != 5*time.Second || sim.LeadTime != DefaultSimulation().LeadTime:
		t.Fatalf("simulation: %+v", sim)
	}
}

func TestParsePolicyFileNamesTheField(t *testing.T) {
	tests := []struct{ file, field string }{
		{`{}`, "max:"},
		{`{"max": 3, "min": 5}`, "min:"},
		{`{"max": 3, "mxa": 5}`, "unknown field"},
		{`{"max": "3"}`, "max: string"},
		{`{"max": 3, "scale_down": {"stabilization_window": "5 minutes"}}`, "scale_down.stabilization_window:"},
		{`{"max": 3, "scale_up": {"cooldown": "-1s"}}`, "scale_up.cooldown:"},
		{`{"max": 3, "rules": [{"name": "r", "metric": "cpu_percent", "comparison": ">", "threshold": 1, "action": "scale_up", "amount": 1, "for": "x"}]}`, "rules[0].for:"},
		{`{"max": 3, "targets": [{"metric": "gpu", "value": 1}]}`, "targets[0].metric:"},
		{`{"max": 3, "simulation": {"tick": "0s"}}`, "simulation.tick:"},
		{`{"max": 3} {"max": 4}`, "more than one"},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			_, _, err := ParsePolicyFile([]byte(tt.file))
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.field) {
				t.Fatalf("error %v, want one naming %q", err, tt.field)
			}
		})
	}
}

func TestParseTrace(t *testing.T) {
	tr, err := ParseTrace(strings.NewReader("seconds,requests_per_second\n0,10\n# comment\n\n60, 20\n120,0\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(tr) != 3 || tr.At(30) != 15 || tr.At(500) != 0 || tr.Duration() != 120 || tr.Peak() != 20 {
		t.Fatalf("trace %v", tr)
	}
	for _, bad := range []struct{ csv, want string }{
		{"0,1\n0,2\n", "line 2: seconds 0 must be after"},
		{"0,1\n5,-1\n", "line 2: requests_per_second -1"},
		{"0,1\nx,2\n", "line 2: seconds \"x\""},
		{"0,1,2\n", "line 1: 3 fields"},
		{"0,1\n", "at least 2"},
		{"0,1\n1,NaN\n", "line 2: requests_per_second NaN"},
	} {
		if _, err := ParseTrace(strings.NewReader(bad.csv)); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("ParseTrace(%q) = %v, want %q", bad.csv, err, bad.want)
		}
	}
}

func FuzzParsePolicyFile(f *testing.F) {
	f.Add([]byte(examplePolicy))
	f.Add([]byte(`{"max": 3, "rules": [{"name": "r", "metric": "cpu_percent", "comparison": ">", "threshold": 1, "action": "scale_up", "amount": 1}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, sim, err := ParsePolicyFile(data)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		if p.Validate() != nil || sim.Validate() != nil {
			t.Fatal("accepted an invalid policy")
		}
		d, _ := Decide(p, State{}, Snapshot{Now: t0, Current: p.Max, Ready: p.Max, Observed: map[Metric]float64{MetricCPU: 50}})
		if d.Desired < p.Min || d.Desired > p.Max {
			t.Fatalf("desired %d outside [%d, %d]", d.Desired, p.Min, p.Max)
		}
	})
}

func FuzzParseTrace(f *testing.F) {
	f.Add("seconds,rps\n0,1\n60,2\n")
	f.Fuzz(func(t *testing.T, csv string) {
		tr, err := ParseTrace(strings.NewReader(csv))
		if err != nil {
			return
		}
		for i := 1; i < len(tr); i++ {
			if tr[i].Seconds <= tr[i-1].Seconds || tr[i].RPS < 0 {
				t.Fatalf("accepted a bad trace: %v", tr)
			}
		}
	})
}

func TestParsePolicyFileCapacity(t *testing.T) {
	p, _, err := ParsePolicyFile([]byte(`{"max": 10, "base_on_demand": 2, "spot_fraction": 0.7, "dynamic_on_demand_fallback": true, "spot_retry": "5m"}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := (Capacity{BaseOnDemand: 2, SpotFraction: 0.7, Fallback: true, SpotRetry: 5 * time.Minute}); p.Capacity != want {
		t.Errorf("capacity %+v, want %+v", p.Capacity, want)
	}
	for body, field := range map[string]string{
		`{"max": 10, "spot_fraction": 1.2}`: "spot_fraction",
		`{"max": 10, "base_on_demand": 11}`: "base_on_demand",
		`{"max": 10, "spot_retry": "soon"}`: "spot_retry",
	} {
		_, _, err := ParsePolicyFile([]byte(body))
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != field {
			t.Errorf("%s: %v, want an error naming %s", body, err, field)
		}
	}
}
