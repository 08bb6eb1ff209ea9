package sim

import (
	"math"
	"time"
)

// Capacity models one DSPy serving host under load. A host serves up to RPS requests per second
// (times its weight); below that, latency grows with utilization as in a single queue
// (base / (1 - u), capped at MaxSlowdown × base); above it, the excess is refused, so the error
// share is 1 - 1/u on top of BaseErrorRate.
type Capacity struct {
	RPS           float64       // requests per second one unit of weight serves
	BaseLatency   time.Duration // latency of an idle host
	MaxSlowdown   float64       // latency cap as a multiple of BaseLatency
	BaseErrorRate float64       // errors of a healthy host, in [0, 1)
}

// DefaultCapacity is a host serving 20 LLM-backed requests per second at 400 ms when idle.
var DefaultCapacity = Capacity{RPS: 20, BaseLatency: 400 * time.Millisecond, MaxSlowdown: 10, BaseErrorRate: 0.002}

// Utilization is the offered rate over what a host of the given weight serves.
func (c Capacity) Utilization(rps, weight float64) float64 {
	if weight <= 0 {
		weight = 1
	}
	return max(rps, 0) / (c.RPS * weight)
}

// Latency is the mean latency at utilization u.
func (c Capacity) Latency(u float64) time.Duration {
	slow := c.MaxSlowdown
	if u < 1 {
		slow = min(1/(1-max(u, 0)), c.MaxSlowdown)
	}
	return time.Duration(float64(c.BaseLatency) * slow)
}

// ErrorRate is the share of requests that fail at utilization u.
func (c Capacity) ErrorRate(u float64) float64 {
	shed := 0.0
	if u > 1 {
		shed = 1 - 1/u
	}
	return math.Min(1, c.BaseErrorRate+shed*(1-c.BaseErrorRate))
}

// CPUPercent is the host CPU at utilization u: 5 % idle, saturating at 98 %.
func (c Capacity) CPUPercent(u float64) float64 {
	return math.Min(98, 5+90*math.Max(u, 0))
}
