package scaling

import (
	"google.golang.org/protobuf/proto"

	"github.com/dspyfleet/dspyfleet/pkg/scaling"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// ScalingDefaults are the scaling policy defaults of an environment profile: what a policy set
// through the API or a config revision gets for the fields it leaves out.
type ScalingDefaults struct {
	// Min and Max bound a pool whose policy names no size.
	Min, Max uint32
	// CPUTarget is the cpu_percent target of a policy with no targets and no rules.
	CPUTarget float64
	// Predictive turns the forecast on for a policy that targets requests or tokens per second
	// per node (the forecast's unit) and says nothing of it.
	Predictive bool
}

// WithDefaults returns pp with the fields it leaves out taken from d.
func WithDefaults(pp *fleetv1.ScalingPolicy, d ScalingDefaults) *fleetv1.ScalingPolicy {
	out := proto.Clone(pp).(*fleetv1.ScalingPolicy)
	if out.GetMax() == 0 && d.Max > 0 {
		out.Max = d.Max
		if out.Min == nil {
			out.Min = new(min(d.Min, d.Max))
		}
	}
	if len(out.GetTargets()) == 0 && len(out.GetRules()) == 0 && d.CPUTarget > 0 {
		out.Targets = []*fleetv1.ScalingTarget{{Metric: string(scaling.MetricCPU), Value: d.CPUTarget}}
	}
	if out.Predictive == nil && d.Predictive {
		for _, t := range out.GetTargets() {
			if m := scaling.Metric(t.GetMetric()); m == scaling.MetricRPS || m == scaling.MetricTokens {
				out.Predictive = &fleetv1.PredictiveScaling{Enabled: true, Metric: string(m)}
				break
			}
		}
	}
	return out
}
