package routing

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Strategy is a load-balancing algorithm.
type Strategy uint8

// The strategies.
const (
	// RoundRobin cycles through eligible nodes in id order.
	RoundRobin Strategy = iota + 1
	// WeightedRoundRobin is smooth weighted round robin: over every cycle each node gets exactly
	// its share of picks, interleaved rather than in bursts.
	WeightedRoundRobin
	// LeastConnections picks a node with the fewest in-flight requests, ties broken at random.
	LeastConnections
	// LeastLatency is power of two random choices over latency (with errors as a tie-breaker).
	LeastLatency
	// Intelligent is power of two random choices over the weighted multi-factor score.
	Intelligent
	// ConsistentHash maps a request key to a node on a hash ring with bounded loads.
	ConsistentHash
)

var strategyNames = map[Strategy]string{
	RoundRobin:         "round_robin",
	WeightedRoundRobin: "weighted_round_robin",
	LeastConnections:   "least_connections",
	LeastLatency:       "least_latency",
	Intelligent:        "intelligent",
	ConsistentHash:     "consistent_hash",
}

// Strategies lists every strategy in declaration order.
func Strategies() []Strategy {
	return []Strategy{RoundRobin, WeightedRoundRobin, LeastConnections, LeastLatency, Intelligent, ConsistentHash}
}

// String returns the strategy's configuration name, e.g. "least_connections".
func (s Strategy) String() string {
	if n, ok := strategyNames[s]; ok {
		return n
	}
	return fmt.Sprintf("strategy(%d)", uint8(s))
}

// ParseStrategy returns the strategy named name.
func ParseStrategy(name string) (Strategy, error) {
	for s, n := range strategyNames {
		if n == name {
			return s, nil
		}
	}
	return 0, fmt.Errorf("unknown strategy %q (valid: round_robin, weighted_round_robin, least_connections, least_latency, intelligent, consistent_hash)", name)
}

// Weights weigh the terms of the multi-factor score; each term is about 1 for a typical node,
// so the weights are the terms' relative importance. Zero leaves a term out.
type Weights struct {
	// Latency weighs the node's latency relative to the pool's mean.
	Latency float64
	// Errors weighs the node's error rate, scaled so 10 % errors is 1.
	Errors float64
	// InFlight weighs the node's in-flight requests per unit of weight, relative to the pool's.
	InFlight float64
	// CPU weighs the node's CPU use as a fraction of 1.
	CPU float64
}

// Outlier configures outlier ejection. A zero threshold disables that detector.
type Outlier struct {
	// ConsecutiveErrors ejects a node after this many failed results in a row.
	ConsecutiveErrors int
	// ErrorRate ejects a node whose error rate over an interval is above it (0..1).
	ErrorRate float64
	// LatencyFactor ejects a node whose p95 latency is above this many times the pool's median p95.
	LatencyFactor float64
	// MinRequests is the least number of requests in the interval before the error rate or
	// latency of a node is judged.
	MinRequests int
	// Interval is how often error rates and latencies are judged.
	Interval time.Duration
	// BaseEjection is the first ejection's length; the n-th consecutive one lasts n times as long.
	BaseEjection time.Duration
	// MaxEjection caps an ejection's length.
	MaxEjection time.Duration
	// MaxEjectedShare is the largest share of the pool's ready nodes ejected at once (0..1); at
	// least one node may be ejected in a pool of two or more unless it is 0.
	MaxEjectedShare float64
}

// Policy is a pool's routing configuration.
type Policy struct {
	// Strategy picks among eligible nodes.
	Strategy Strategy
	// Weights weigh the score of LeastLatency and Intelligent.
	Weights Weights
	// LoadFactor is ε of consistent hashing with bounded loads: no node takes more than
	// (1+ε) × the average in-flight load.
	LoadFactor float64
	// Outlier configures ejection.
	Outlier Outlier
	// SlowStart ramps a new or returning node's weight from 10 % to 100 % over this window; zero
	// disables it.
	SlowStart time.Duration
	// PanicThreshold: when the healthy share of the pool's nodes falls below it (0..1), picks
	// spread over every ready node, ejected ones included. Zero disables panic mode.
	PanicThreshold float64
}

// DefaultPolicy returns the policy of a pool nobody configured: round robin with Envoy-like
// outlier ejection and panic threshold.
func DefaultPolicy() Policy {
	return Policy{
		Strategy:   RoundRobin,
		Weights:    Weights{Latency: 1, Errors: 1, InFlight: 1, CPU: 0.5},
		LoadFactor: 0.25,
		Outlier: Outlier{
			ConsecutiveErrors: 5,
			ErrorRate:         0.5,
			LatencyFactor:     3,
			MinRequests:       20,
			Interval:          10 * time.Second,
			BaseEjection:      30 * time.Second,
			MaxEjection:       5 * time.Minute,
			MaxEjectedShare:   0.1,
		},
		SlowStart:      30 * time.Second,
		PanicThreshold: 0.5,
	}
}

// ErrInvalidPolicy marks a policy that fails validation.
var ErrInvalidPolicy = errors.New("invalid routing policy")

// Validate reports every invalid field of p by its configuration name.
func (p Policy) Validate() error {
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	unit := func(v float64) bool { return finite(v) && v >= 0 && v <= 1 }
	_, known := strategyNames[p.Strategy]
	check(known, "strategy: unknown strategy %d", p.Strategy)
	w := p.Weights
	for _, f := range []struct {
		name string
		v    float64
	}{{"latency", w.Latency}, {"errors", w.Errors}, {"in_flight", w.InFlight}, {"cpu", w.CPU}} {
		check(finite(f.v) && f.v >= 0, "score_weights.%s: %v must be a finite number ≥ 0", f.name, f.v)
	}
	check(w.Latency+w.Errors+w.InFlight+w.CPU > 0, "score_weights: at least one weight must be > 0")
	check(finite(p.LoadFactor) && p.LoadFactor > 0, "hash_load_factor: ε %v must be > 0", p.LoadFactor)
	o := p.Outlier
	check(o.ConsecutiveErrors >= 0, "outlier_detection.consecutive_errors: %d must be ≥ 0", o.ConsecutiveErrors)
	check(unit(o.ErrorRate), "outlier_detection.error_rate: %v must be within [0,1]", o.ErrorRate)
	check(finite(o.LatencyFactor) && (o.LatencyFactor == 0 || o.LatencyFactor > 1), "outlier_detection.latency_factor: %v must be 0 (off) or > 1", o.LatencyFactor)
	check(o.MinRequests >= 0, "outlier_detection.min_requests: %d must be ≥ 0", o.MinRequests)
	check(o.Interval > 0, "outlier_detection.interval: %s must be > 0", o.Interval)
	check(o.BaseEjection > 0, "outlier_detection.base_ejection_time: %s must be > 0", o.BaseEjection)
	check(o.MaxEjection >= o.BaseEjection, "outlier_detection.max_ejection_time: %s must be ≥ outlier_detection.base_ejection_time %s", o.MaxEjection, o.BaseEjection)
	check(unit(o.MaxEjectedShare), "outlier_detection.max_ejected_share: %v must be within [0,1]", o.MaxEjectedShare)
	check(p.SlowStart >= 0, "slow_start_window: %s must be ≥ 0", p.SlowStart)
	check(unit(p.PanicThreshold), "panic_threshold: %v must be within [0,1]", p.PanicThreshold)
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrInvalidPolicy, errors.Join(errs...))
}
