package scaling

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// The policy file is JSON (fleetctl also reads the same keys from YAML). Every key is optional
// except max; an absent key keeps DefaultPolicy's value, durations are strings like "30s" or
// "5m", and an unknown key is an error:
//
//	{
//	  "min": 1, "max": 20,
//	  "targets": [{"metric": "requests_per_second_per_node", "value": 10}],
//	  "tolerance": 0.1,
//	  "rules": [{"name": "queue", "metric": "queue_length_per_node", "comparison": ">", "threshold": 20,
//	             "for": "1m", "action": "scale_up", "amount": 50, "unit": "percent", "cooldown": "5m"}],
//	  "scale_up":   {"stabilization_window": "0s", "select": "max_change", "cooldown": "0s",
//	                 "policies": [{"unit": "percent", "value": 100, "period": "15s"}]},
//	  "scale_down": {"stabilization_window": "5m", "policies": [{"unit": "nodes", "value": 1, "period": "1m"}]},
//	  "wake_size": 1,
//	  "victims": ["most_expensive", "least_loaded", "newest"],
//	  "base_on_demand": 2, "spot_fraction": 0.7, "dynamic_on_demand_fallback": true, "spot_retry": "10m",
//	  "predictive": {"enabled": true, "metric": "requests_per_second_per_node", "horizon": "1h",
//	                 "lead_time": "5m", "min_history": "48h"},
//	  "simulation": {"capacity_per_node": 16, "lead_time": "3m", "tick": "15s",
//	                 "base_latency": "200ms", "latency_target": "600ms", "noise": 0.05}
//	}
//
// The simulation section configures fleetctl simulate and is ignored by the control plane.
type filePolicy struct {
	Min        *int            `json:"min"`
	Max        *int            `json:"max"`
	Targets    []Target        `json:"targets"`
	Tolerance  *float64        `json:"tolerance"`
	Rules      []fileRule      `json:"rules"`
	ScaleUp    *fileBehavior   `json:"scale_up"`
	ScaleDown  *fileBehavior   `json:"scale_down"`
	WakeSize   *int            `json:"wake_size"`
	Victims    []VictimOrder   `json:"victims"`
	Predictive *filePredictive `json:"predictive"`
	Simulation *fileSimulation `json:"simulation"`

	BaseOnDemand            *int     `json:"base_on_demand"`
	SpotFraction            *float64 `json:"spot_fraction"`
	DynamicOnDemandFallback *bool    `json:"dynamic_on_demand_fallback"`
	SpotRetry               *string  `json:"spot_retry"`
}

type fileRule struct {
	Name       string     `json:"name"`
	Metric     Metric     `json:"metric"`
	Comparison Comparison `json:"comparison"`
	Threshold  float64    `json:"threshold"`
	For        *string    `json:"for"`
	Action     Direction  `json:"action"`
	Amount     int        `json:"amount"`
	Unit       Unit       `json:"unit"`
	Cooldown   *string    `json:"cooldown"`
}

type fileRate struct {
	Unit   Unit   `json:"unit"`
	Value  int    `json:"value"`
	Period string `json:"period"`
}

type fileBehavior struct {
	StabilizationWindow *string     `json:"stabilization_window"`
	Policies            *[]fileRate `json:"policies"`
	Select              *Select     `json:"select"`
	Cooldown            *string     `json:"cooldown"`
}

type filePredictive struct {
	Enabled    *bool   `json:"enabled"`
	Metric     *Metric `json:"metric"`
	Horizon    *string `json:"horizon"`
	LeadTime   *string `json:"lead_time"`
	MinHistory *string `json:"min_history"`
}

type fileSimulation struct {
	CapacityPerNode *float64 `json:"capacity_per_node"`
	LeadTime        *string  `json:"lead_time"`
	Tick            *string  `json:"tick"`
	BaseLatency     *string  `json:"base_latency"`
	LatencyTarget   *string  `json:"latency_target"`
	Noise           *float64 `json:"noise"`
	StaticNodes     *int     `json:"static_nodes"`
}

// ParsePolicyFile reads a policy file (see the format above) and validates it, returning the
// policy and the simulation settings. Errors name the key at fault.
func ParsePolicyFile(data []byte) (Policy, Simulation, error) {
	var f filePolicy
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return Policy{}, Simulation{}, &FieldError{Field: "policy file", Reason: jsonReason(err)}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Policy{}, Simulation{}, &FieldError{Field: "policy file", Reason: "more than one JSON value"}
	}
	if f.Max == nil {
		return Policy{}, Simulation{}, &FieldError{Field: "max", Reason: "is required"}
	}
	p := DefaultPolicy(1, *f.Max)
	var errs []error
	dur := func(field string, dst *time.Duration, s *string) {
		if s == nil {
			return
		}
		d, err := time.ParseDuration(*s)
		if err != nil {
			errs = append(errs, &FieldError{Field: field, Reason: fmt.Sprintf("%q is not a duration like 30s or 5m", truncate(*s))})
			return
		}
		*dst = d
	}
	set(&p.Min, f.Min)
	set(&p.Tolerance, f.Tolerance)
	set(&p.WakeSize, f.WakeSize)
	set(&p.Capacity.BaseOnDemand, f.BaseOnDemand)
	set(&p.Capacity.SpotFraction, f.SpotFraction)
	set(&p.Capacity.Fallback, f.DynamicOnDemandFallback)
	dur("spot_retry", &p.Capacity.SpotRetry, f.SpotRetry)
	if f.Targets != nil {
		p.Targets = f.Targets
	}
	if f.Victims != nil {
		p.Victims = f.Victims
	}
	for i, fr := range f.Rules {
		r := Rule{Name: fr.Name, Metric: fr.Metric, Comparison: fr.Comparison, Threshold: fr.Threshold,
			Action: fr.Action, Amount: fr.Amount, Unit: fr.Unit, Cooldown: DefaultRuleCooldown}
		if r.Unit == "" {
			r.Unit = Nodes
		}
		dur(fmt.Sprintf("rules[%d].for", i), &r.For, fr.For)
		dur(fmt.Sprintf("rules[%d].cooldown", i), &r.Cooldown, fr.Cooldown)
		p.Rules = append(p.Rules, r)
	}
	for _, b := range []struct {
		name string
		src  *fileBehavior
		dst  *Behavior
	}{{"scale_up", f.ScaleUp, &p.ScaleUp}, {"scale_down", f.ScaleDown, &p.ScaleDown}} {
		if b.src == nil {
			continue
		}
		dur(b.name+".stabilization_window", &b.dst.StabilizationWindow, b.src.StabilizationWindow)
		dur(b.name+".cooldown", &b.dst.Cooldown, b.src.Cooldown)
		set(&b.dst.Select, b.src.Select)
		if b.src.Policies != nil {
			b.dst.Policies = nil
			for i, fr := range *b.src.Policies {
				rp := RatePolicy{Unit: fr.Unit, Value: fr.Value}
				dur(fmt.Sprintf("%s.policies[%d].period", b.name, i), &rp.Period, &fr.Period)
				b.dst.Policies = append(b.dst.Policies, rp)
			}
		}
	}
	if pr := f.Predictive; pr != nil {
		set(&p.Predictive.Enabled, pr.Enabled)
		set(&p.Predictive.Metric, pr.Metric)
		dur("predictive.horizon", &p.Predictive.Horizon, pr.Horizon)
		dur("predictive.lead_time", &p.Predictive.LeadTime, pr.LeadTime)
		dur("predictive.min_history", &p.Predictive.MinHistory, pr.MinHistory)
	}
	sim := DefaultSimulation()
	if s := f.Simulation; s != nil {
		set(&sim.CapacityPerNode, s.CapacityPerNode)
		set(&sim.Noise, s.Noise)
		set(&sim.StaticNodes, s.StaticNodes)
		dur("simulation.lead_time", &sim.LeadTime, s.LeadTime)
		dur("simulation.tick", &sim.Tick, s.Tick)
		dur("simulation.base_latency", &sim.BaseLatency, s.BaseLatency)
		dur("simulation.latency_target", &sim.LatencyTarget, s.LatencyTarget)
	}
	if err := errors.Join(errs...); err != nil {
		return Policy{}, Simulation{}, err
	}
	if err := errors.Join(p.Validate(), sim.Validate()); err != nil {
		return Policy{}, Simulation{}, err
	}
	return p, sim, nil
}

func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// jsonReason turns a decoding error into words that name the key where possible.
func jsonReason(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("%s: %s is not a %s", te.Field, te.Value, te.Type)
	}
	return err.Error()
}
