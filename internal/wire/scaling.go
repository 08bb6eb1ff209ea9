package wire

import (
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/dspyfleet/dspyfleet/pkg/scaling"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// ScalingPolicyToProto renders a scaling policy with every field set; the actuator is left to
// the caller.
func ScalingPolicyToProto(p scaling.Policy) *fleetv1.ScalingPolicy {
	pp := &fleetv1.ScalingPolicy{
		Min: proto.Uint32(uint32(p.Min)), Max: uint32(p.Max), Tolerance: proto.Float64(p.Tolerance), WakeSize: uint32(p.WakeSize),
		ScaleUp: behaviorToProto(p.ScaleUp), ScaleDown: behaviorToProto(p.ScaleDown),
		Predictive: &fleetv1.PredictiveScaling{
			Enabled: p.Predictive.Enabled, Metric: string(p.Predictive.Metric), Horizon: durationpb.New(p.Predictive.Horizon),
			LeadTime: durationpb.New(p.Predictive.LeadTime), MinHistory: durationpb.New(p.Predictive.MinHistory),
		},
		BaseOnDemand: uint32(p.Capacity.BaseOnDemand), SpotFraction: p.Capacity.SpotFraction,
		DynamicOnDemandFallback: p.Capacity.Fallback, SpotRetry: durationpb.New(p.Capacity.SpotRetry),
	}
	for _, t := range p.Targets {
		pp.Targets = append(pp.Targets, &fleetv1.ScalingTarget{Metric: string(t.Metric), Value: t.Value})
	}
	for _, r := range p.Rules {
		pp.Rules = append(pp.Rules, &fleetv1.ScalingRule{
			Name: r.Name, Metric: string(r.Metric), Comparison: string(r.Comparison), Threshold: r.Threshold,
			ForDuration: durationpb.New(r.For), Action: string(r.Action), Amount: uint32(r.Amount), Unit: string(r.Unit),
			Cooldown: durationpb.New(r.Cooldown),
		})
	}
	for _, v := range p.Victims {
		pp.Victims = append(pp.Victims, string(v))
	}
	return pp
}

func behaviorToProto(b scaling.Behavior) *fleetv1.ScalingBehavior {
	sel := b.Select
	if sel == "" {
		sel = scaling.MaxChange
	}
	pb := &fleetv1.ScalingBehavior{
		StabilizationWindow: durationpb.New(b.StabilizationWindow), Select: string(sel),
		Cooldown: durationpb.New(b.Cooldown), Unlimited: len(b.Policies) == 0,
	}
	for _, rp := range b.Policies {
		pb.Policies = append(pb.Policies, &fleetv1.ScalingRatePolicy{Unit: string(rp.Unit), Value: uint32(rp.Value), Period: durationpb.New(rp.Period)})
	}
	return pb
}
