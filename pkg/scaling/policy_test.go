package scaling

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestDefaultPolicyIsValid(t *testing.T) {
	if err := DefaultPolicy(0, 10).Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestValidateNamesTheField(t *testing.T) {
	rule := Rule{Name: "hot", Metric: MetricCPU, Comparison: Above, Threshold: 80, For: time.Minute, Action: ScaleUp, Amount: 2, Unit: Nodes}
	tests := []struct {
		name  string
		edit  func(*Policy)
		field string
	}{
		{"min above max", func(p *Policy) { p.Min, p.Max = 5, 3 }, "min:"},
		{"negative min", func(p *Policy) { p.Min = -1 }, "min:"},
		{"zero max", func(p *Policy) { p.Max = 0 }, "max:"},
		{"negative target", func(p *Policy) { p.Targets = []Target{{MetricRPS, -1}} }, "targets[0].value:"},
		{"cpu above 100", func(p *Policy) { p.Targets = []Target{{MetricCPU, 120}} }, "targets[0].value:"},
		{"unknown metric", func(p *Policy) { p.Targets = []Target{{"gpu", 1}} }, "targets[0].metric:"},
		{"metric twice", func(p *Policy) { p.Targets = []Target{{MetricCPU, 50}, {MetricCPU, 60}} }, "targets[1].metric:"},
		{"tolerance 1", func(p *Policy) { p.Tolerance = 1 }, "tolerance:"},
		{"negative window", func(p *Policy) { p.ScaleDown.StabilizationWindow = -time.Second }, "scale_down.stabilization_window:"},
		{"negative cooldown", func(p *Policy) { p.ScaleUp.Cooldown = -time.Second }, "scale_up.cooldown:"},
		{"bad select", func(p *Policy) { p.ScaleUp.Select = "most" }, "scale_up.select:"},
		{"zero rate period", func(p *Policy) { p.ScaleUp.Policies[0].Period = 0 }, "scale_up.policies[0].period:"},
		{"bad rate unit", func(p *Policy) { p.ScaleDown.Policies[0].Unit = "pods" }, "scale_down.policies[0].unit:"},
		{"rule unknown metric", func(p *Policy) { r := rule; r.Metric = "x"; p.Rules = []Rule{r} }, "rules[0].metric:"},
		{"rule comparison", func(p *Policy) { r := rule; r.Comparison = "=="; p.Rules = []Rule{r} }, "rules[0].comparison:"},
		{"rule negative for", func(p *Policy) { r := rule; r.For = -time.Second; p.Rules = []Rule{r} }, "rules[0].for:"},
		{"rule negative cooldown", func(p *Policy) { r := rule; r.Cooldown = -1; p.Rules = []Rule{r} }, "rules[0].cooldown:"},
		{"rule action", func(p *Policy) { r := rule; r.Action = "grow"; p.Rules = []Rule{r} }, "rules[0].action:"},
		{"rule zero amount", func(p *Policy) { r := rule; r.Amount = 0; p.Rules = []Rule{r} }, "rules[0].amount:"},
		{"rule name", func(p *Policy) { r := rule; r.Name = "a b"; p.Rules = []Rule{r} }, "rules[0].name:"},
		{"rule name twice", func(p *Policy) { p.Rules = []Rule{rule, rule} }, "rules[1].name:"},
		{"wake size zero at min 0", func(p *Policy) { p.Min, p.WakeSize = 0, 0 }, "wake_size:"},
		{"wake size above max", func(p *Policy) { p.WakeSize = 11 }, "wake_size:"},
		{"victim", func(p *Policy) { p.Victims = []VictimOrder{"oldest"} }, "victims[0]:"},
		{"predictive without target", func(p *Policy) { p.Predictive.Enabled = true }, "predictive.metric:"},
		{"predictive short history", func(p *Policy) {
			p.Targets = []Target{{MetricRPS, 10}}
			p.Predictive.Enabled, p.Predictive.MinHistory = true, time.Hour
		}, "predictive.min_history:"},
		{"predictive lead beyond horizon", func(p *Policy) {
			p.Targets = []Target{{MetricRPS, 10}}
			p.Predictive.Enabled, p.Predictive.LeadTime = true, 2*time.Hour
		}, "predictive.horizon:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := DefaultPolicy(1, 10)
			tt.edit(&p)
			err := p.Validate()
			var fe *FieldError
			if !errors.Is(err, ErrInvalid) || !errors.As(err, &fe) {
				t.Fatalf("Validate() = %v, want a FieldError", err)
			}
			if !strings.Contains(err.Error(), tt.field) {
				t.Fatalf("Validate() = %q, want it to name %q", err, tt.field)
			}
		})
	}
}
