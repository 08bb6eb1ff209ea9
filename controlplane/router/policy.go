package router

import (
	"fmt"
	"math"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/dspyfleet/dspyfleet/controlplane/check"
	"github.com/dspyfleet/dspyfleet/pkg/routing"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// PolicyFromProto turns an API routing policy into a validated routing.Policy: unset fields take
// the defaults; every invalid field is named, prefixed with "policy.".
func PolicyFromProto(pp *fleetv1.RoutingPolicy) (routing.Policy, error) {
	p := routing.DefaultPolicy()
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, "policy."+fmt.Sprintf(format, args...)) }
	if s := pp.GetStrategy(); s != fleetv1.Strategy_STRATEGY_UNSPECIFIED {
		name, ok := fleetv1.Strategy_name[int32(s)]
		if !ok {
			bad("strategy: unknown strategy %d (valid: %s)", s, strategyNames())
		} else if p.Strategy, _ = routing.ParseStrategy(strings.ToLower(strings.TrimPrefix(name, "STRATEGY_"))); p.Strategy == 0 {
			bad("strategy: %s is not implemented", name)
		}
	}
	if w := pp.GetScoreWeights(); w != nil {
		p.Weights = routing.Weights{Latency: w.GetLatency(), Errors: w.GetErrors(), InFlight: w.GetInFlight(), CPU: w.GetCpu()}
	}
	if pp.HashLoadFactor != nil {
		p.LoadFactor = pp.GetHashLoadFactor()
	}
	if o := pp.GetOutlierDetection(); o != nil {
		if o.ConsecutiveErrors != nil {
			p.Outlier.ConsecutiveErrors = int(o.GetConsecutiveErrors())
		}
		if o.ErrorRate != nil {
			p.Outlier.ErrorRate = o.GetErrorRate()
		}
		if o.LatencyFactor != nil {
			p.Outlier.LatencyFactor = o.GetLatencyFactor()
		}
		if o.MinRequests != nil {
			p.Outlier.MinRequests = int(o.GetMinRequests())
		}
		if o.MaxEjectedShare != nil {
			p.Outlier.MaxEjectedShare = o.GetMaxEjectedShare()
		}
		durations := []struct {
			name string
			d    *durationpb.Duration
			dst  *time.Duration
		}{
			{"interval", o.GetInterval(), &p.Outlier.Interval},
			{"base_ejection_time", o.GetBaseEjectionTime(), &p.Outlier.BaseEjection},
			{"max_ejection_time", o.GetMaxEjectionTime(), &p.Outlier.MaxEjection},
		}
		for _, d := range durations {
			if d.d == nil {
				continue
			}
			if err := d.d.CheckValid(); err != nil {
				bad("outlier_detection.%s: %v", d.name, err)
				continue
			}
			*d.dst = d.d.AsDuration()
		}
	}
	if d := pp.GetSlowStartWindow(); d != nil {
		if err := d.CheckValid(); err != nil {
			bad("slow_start_window: %v", err)
		} else {
			p.SlowStart = d.AsDuration()
		}
	}
	if pp.PanicThreshold != nil {
		p.PanicThreshold = pp.GetPanicThreshold()
	}
	if len(errs) == 0 {
		if err := p.Validate(); err != nil {
			for _, line := range strings.Split(strings.TrimPrefix(err.Error(), routing.ErrInvalidPolicy.Error()+": "), "\n") {
				errs = append(errs, "policy."+line)
			}
		}
	}
	if len(errs) > 0 {
		return routing.Policy{}, check.Invalidf("%s", strings.Join(errs, "; "))
	}
	return p, nil
}

// PolicyToProto renders p with every field set.
func PolicyToProto(p routing.Policy) *fleetv1.RoutingPolicy {
	o := p.Outlier
	return &fleetv1.RoutingPolicy{
		Strategy:       StrategyToProto(p.Strategy),
		ScoreWeights:   &fleetv1.ScoreWeights{Latency: p.Weights.Latency, Errors: p.Weights.Errors, InFlight: p.Weights.InFlight, Cpu: p.Weights.CPU},
		HashLoadFactor: &p.LoadFactor,
		OutlierDetection: &fleetv1.OutlierDetection{
			ConsecutiveErrors: new(uint32(min(o.ConsecutiveErrors, math.MaxUint32))),
			ErrorRate:         &o.ErrorRate,
			LatencyFactor:     &o.LatencyFactor,
			MinRequests:       new(uint32(min(o.MinRequests, math.MaxUint32))),
			Interval:          durationpb.New(o.Interval),
			BaseEjectionTime:  durationpb.New(o.BaseEjection),
			MaxEjectionTime:   durationpb.New(o.MaxEjection),
			MaxEjectedShare:   &o.MaxEjectedShare,
		},
		SlowStartWindow: durationpb.New(p.SlowStart),
		PanicThreshold:  &p.PanicThreshold,
	}
}

// StrategyToProto maps a routing strategy to its API enum by name.
func StrategyToProto(s routing.Strategy) fleetv1.Strategy {
	return fleetv1.Strategy(fleetv1.Strategy_value["STRATEGY_"+strings.ToUpper(s.String())])
}

// strategyNames lists the API's strategy names for error messages.
func strategyNames() string {
	var names []string
	for _, s := range routing.Strategies() {
		names = append(names, StrategyToProto(s).String())
	}
	return strings.Join(names, ", ")
}
