package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/dspyfleet/dspyfleet/pkg/scaling"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// actuatorFile is the "actuator" section of a policy file: how the control plane carries the
// decisions out. fleetctl simulate ignores it.
type actuatorFile struct {
	ExecHook            string `json:"exec_hook" yaml:"exec_hook,omitempty"`
	HookTimeout         string `json:"hook_timeout" yaml:"hook_timeout,omitempty"`
	Instances           bool   `json:"instances" yaml:"instances,omitempty"`
	MaxInstancesPerNode uint32 `json:"max_instances_per_node" yaml:"max_instances_per_node,omitempty"`
}

// readPolicyFile reads a scaling policy file, JSON or (by its extension) YAML: the policy, the
// simulation settings and the actuator, each checked here so mistakes name the file's keys.
func readPolicyFile(path string) (scaling.Policy, scaling.Simulation, *fleetv1.ScalingActuator, error) {
	fail := func(err error) (scaling.Policy, scaling.Simulation, *fleetv1.ScalingActuator, error) {
		return scaling.Policy{}, scaling.Simulation{}, nil, fmt.Errorf("policy file %s: %w", path, err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fail(err)
	}
	var doc map[string]any
	if ext := filepath.Ext(path); ext == ".yaml" || ext == ".yml" {
		err = yaml.Unmarshal(data, &doc)
	} else {
		err = json.Unmarshal(data, &doc)
	}
	if err != nil {
		return fail(err)
	}
	var act *fleetv1.ScalingActuator
	if raw, ok := doc["actuator"]; ok {
		delete(doc, "actuator")
		if act, err = parseActuator(raw); err != nil {
			return fail(err)
		}
	}
	rest, err := json.Marshal(doc)
	if err != nil {
		return fail(err)
	}
	p, sim, err := scaling.ParsePolicyFile(rest)
	if err != nil {
		return fail(err)
	}
	return p, sim, act, nil
}

func parseActuator(raw any) (*fleetv1.ScalingActuator, error) {
	b, err := json.Marshal(raw)
	if err != nil {
		return nil, err
	}
	var f actuatorFile
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("actuator: %w", err)
	}
	act := &fleetv1.ScalingActuator{ExecHook: f.ExecHook, Instances: f.Instances, MaxInstancesPerNode: f.MaxInstancesPerNode}
	if f.HookTimeout != "" {
		d, err := time.ParseDuration(f.HookTimeout)
		if err != nil {
			return nil, fmt.Errorf("actuator.hook_timeout: %q is not a duration like 30s or 5m", f.HookTimeout)
		}
		act.HookTimeout = durationpb.New(d)
	}
	return act, nil
}

// The policy file as "scale policy get" prints it, in the keys "scale policy set" reads.
type (
	policyOut struct {
		Min        uint32        `yaml:"min"`
		Max        uint32        `yaml:"max"`
		Targets    []targetOut   `yaml:"targets,omitempty"`
		Tolerance  float64       `yaml:"tolerance"`
		Rules      []ruleOut     `yaml:"rules,omitempty"`
		ScaleUp    behaviorOut   `yaml:"scale_up"`
		ScaleDown  behaviorOut   `yaml:"scale_down"`
		WakeSize   uint32        `yaml:"wake_size"`
		Victims    []string      `yaml:"victims,flow"`
		Predictive predictiveOut `yaml:"predictive"`
		Actuator   actuatorFile  `yaml:"actuator"`
		// The capacity mix, shown once the pool runs spot or keeps an on-demand base.
		BaseOnDemand            uint32  `yaml:"base_on_demand,omitempty"`
		SpotFraction            float64 `yaml:"spot_fraction,omitempty"`
		DynamicOnDemandFallback bool    `yaml:"dynamic_on_demand_fallback,omitempty"`
		SpotRetry               string  `yaml:"spot_retry,omitempty"`
	}
	targetOut struct {
		Metric string  `yaml:"metric"`
		Value  float64 `yaml:"value"`
	}
	ruleOut struct {
		Name       string  `yaml:"name"`
		Metric     string  `yaml:"metric"`
		Comparison string  `yaml:"comparison"`
		Threshold  float64 `yaml:"threshold"`
		For        string  `yaml:"for"`
		Action     string  `yaml:"action"`
		Amount     uint32  `yaml:"amount"`
		Unit       string  `yaml:"unit"`
		Cooldown   string  `yaml:"cooldown"`
	}
	rateOut struct {
		Unit   string `yaml:"unit"`
		Value  uint32 `yaml:"value"`
		Period string `yaml:"period"`
	}
	behaviorOut struct {
		StabilizationWindow string    `yaml:"stabilization_window"`
		Policies            []rateOut `yaml:"policies"`
		Select              string    `yaml:"select"`
		Cooldown            string    `yaml:"cooldown"`
	}
	predictiveOut struct {
		Enabled    bool   `yaml:"enabled"`
		Metric     string `yaml:"metric"`
		Horizon    string `yaml:"horizon"`
		LeadTime   string `yaml:"lead_time"`
		MinHistory string `yaml:"min_history"`
	}
)

// policyYAML renders an API policy as a policy file.
func policyYAML(p *fleetv1.ScalingPolicy) ([]byte, error) {
	out := policyOut{
		Min: p.GetMin(), Max: p.GetMax(), Tolerance: p.GetTolerance(), WakeSize: p.GetWakeSize(), Victims: p.GetVictims(),
		ScaleUp: behaviorYAML(p.GetScaleUp()), ScaleDown: behaviorYAML(p.GetScaleDown()),
		Predictive: predictiveOut{
			Enabled: p.GetPredictive().GetEnabled(), Metric: p.GetPredictive().GetMetric(), Horizon: duration(p.GetPredictive().GetHorizon()),
			LeadTime: duration(p.GetPredictive().GetLeadTime()), MinHistory: duration(p.GetPredictive().GetMinHistory()),
		},
		Actuator: actuatorFile{
			ExecHook: p.GetActuator().GetExecHook(), HookTimeout: duration(p.GetActuator().GetHookTimeout()),
			Instances: p.GetActuator().GetInstances(), MaxInstancesPerNode: p.GetActuator().GetMaxInstancesPerNode(),
		},
	}
	if p.GetSpotFraction() > 0 || p.GetBaseOnDemand() > 0 || p.GetDynamicOnDemandFallback() {
		out.BaseOnDemand, out.SpotFraction = p.GetBaseOnDemand(), p.GetSpotFraction()
		out.DynamicOnDemandFallback, out.SpotRetry = p.GetDynamicOnDemandFallback(), duration(p.GetSpotRetry())
	}
	for _, t := range p.GetTargets() {
		out.Targets = append(out.Targets, targetOut{t.GetMetric(), t.GetValue()})
	}
	for _, r := range p.GetRules() {
		out.Rules = append(out.Rules, ruleOut{
			Name: r.GetName(), Metric: r.GetMetric(), Comparison: r.GetComparison(), Threshold: r.GetThreshold(),
			For: duration(r.GetForDuration()), Action: r.GetAction(), Amount: r.GetAmount(), Unit: r.GetUnit(), Cooldown: duration(r.GetCooldown()),
		})
	}
	return yaml.Marshal(out)
}

func behaviorYAML(b *fleetv1.ScalingBehavior) behaviorOut {
	out := behaviorOut{
		StabilizationWindow: duration(b.GetStabilizationWindow()), Select: b.GetSelect(), Cooldown: duration(b.GetCooldown()),
		Policies: []rateOut{},
	}
	for _, rp := range b.GetPolicies() {
		out.Policies = append(out.Policies, rateOut{rp.GetUnit(), rp.GetValue(), duration(rp.GetPeriod())})
	}
	return out
}
