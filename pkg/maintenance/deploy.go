package maintenance

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// Strategy is how a deployment moves through a pool.
type Strategy string

// The deployment strategies.
const (
	Rolling   Strategy = "rolling"
	Canary    Strategy = "canary"
	BlueGreen Strategy = "blue_green"
)

// Deployment defaults.
const (
	DefaultAnalysisWindow       = 5 * time.Minute
	DefaultMaxErrorRateIncrease = 0.05
	DefaultMaxP95Ratio          = 1.5
	DefaultMinRequests          = 20
	DefaultKeepOld              = 15 * time.Minute
	DefaultDrainTimeout         = 5 * time.Minute
	// MaxWait bounds every duration of a spec.
	MaxWait = 7 * 24 * time.Hour
)

// ErrInvalid marks every validation error of this package.
var ErrInvalid = errors.New("invalid")

// DeploySpec is a deployment's specification with its defaults applied by Defaults.
type DeploySpec struct {
	Pool, Version             string
	Strategy                  Strategy
	BatchSize, MaxUnavailable int
	CanaryNodes               int
	CanaryPercent             []float64
	AnalysisWindow            time.Duration
	MaxErrorRateIncrease      float64
	MaxP95Ratio               float64
	MinRequests               int
	IdleNodes                 []string
	KeepOld, DrainTimeout     time.Duration
	ErrorRateSet, P95RatioSet bool // the thresholds were given, even as 0
	MinRequestsSet            bool
}

// Defaults fills every unset field.
func (s *DeploySpec) Defaults() {
	if s.BatchSize == 0 {
		s.BatchSize = 1
	}
	if s.MaxUnavailable == 0 {
		s.MaxUnavailable = s.BatchSize
	}
	if s.Strategy == Canary && s.CanaryNodes == 0 {
		s.CanaryNodes = 1
	}
	if s.AnalysisWindow == 0 {
		s.AnalysisWindow = DefaultAnalysisWindow
	}
	if !s.ErrorRateSet {
		s.MaxErrorRateIncrease = DefaultMaxErrorRateIncrease
	}
	if !s.P95RatioSet {
		s.MaxP95Ratio = DefaultMaxP95Ratio
	}
	if !s.MinRequestsSet {
		s.MinRequests = DefaultMinRequests
	}
	if s.KeepOld == 0 {
		s.KeepOld = DefaultKeepOld
	}
	if s.DrainTimeout == 0 {
		s.DrainTimeout = DefaultDrainTimeout
	}
}

// Validate checks a spec (after Defaults) against the pool's nodes, naming every bad field.
func (s DeploySpec) Validate(poolNodes []string) error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: spec.%s: %s", ErrInvalid, field, fmt.Sprintf(format, args...)))
	}
	if s.Pool == "" {
		bad("pool", "is empty")
	} else if len(poolNodes) == 0 {
		bad("pool", "pool %q has no nodes", s.Pool)
	}
	if s.Version == "" {
		bad("version", "is empty")
	}
	switch s.Strategy {
	case Rolling, Canary, BlueGreen:
	default:
		bad("strategy", "%q is not rolling, canary or blue_green", s.Strategy)
	}
	if s.BatchSize < 1 {
		bad("batch_size", "%d must be at least 1", s.BatchSize)
	}
	if s.MaxUnavailable < 1 {
		bad("max_unavailable", "%d must be at least 1", s.MaxUnavailable)
	}
	for i, p := range s.CanaryPercent {
		if math.IsNaN(p) || p <= 0 || p >= 100 {
			bad(fmt.Sprintf("canary_percent[%d]", i), "%g must be above 0 and below 100 (100 %% is the promotion that follows the last step)", p)
		} else if i > 0 && p <= s.CanaryPercent[i-1] {
			bad(fmt.Sprintf("canary_percent[%d]", i), "%g must be above the step before (%g)", p, s.CanaryPercent[i-1])
		}
	}
	if s.Strategy == Canary && len(poolNodes) > 0 && s.CanaryNodes >= len(poolNodes) {
		bad("canary_nodes", "%d must be fewer than the pool's %d nodes, so a baseline remains to compare with", s.CanaryNodes, len(poolNodes))
	}
	if s.CanaryNodes < 0 {
		bad("canary_nodes", "%d must not be negative", s.CanaryNodes)
	}
	if s.MaxErrorRateIncrease < 0 || s.MaxErrorRateIncrease > 1 || math.IsNaN(s.MaxErrorRateIncrease) {
		bad("max_error_rate_increase", "%g must be in [0, 1]", s.MaxErrorRateIncrease)
	}
	if s.MaxP95Ratio < 1 || math.IsNaN(s.MaxP95Ratio) || math.IsInf(s.MaxP95Ratio, 0) {
		bad("max_p95_ratio", "%g must be at least 1", s.MaxP95Ratio)
	}
	if s.MinRequests < 0 {
		bad("min_requests", "%d must not be negative", s.MinRequests)
	}
	for _, d := range []struct {
		field string
		v     time.Duration
	}{{"analysis_window", s.AnalysisWindow}, {"keep_old", s.KeepOld}, {"drain_timeout", s.DrainTimeout}} {
		if d.v <= 0 || d.v > MaxWait {
			bad(d.field, "%s must be positive and at most %s", d.v, MaxWait)
		}
	}
	if s.Strategy != BlueGreen && len(s.IdleNodes) > 0 {
		bad("idle_nodes", "only a blue_green deployment has an idle set")
	}
	for i, id := range s.IdleNodes {
		if !slices.Contains(poolNodes, id) {
			bad(fmt.Sprintf("idle_nodes[%d]", i), "%q is not a node of pool %q", id, s.Pool)
		}
	}
	if s.Strategy == BlueGreen && len(s.IdleNodes) >= len(poolNodes) && len(poolNodes) > 0 {
		bad("idle_nodes", "names all %d nodes of the pool; the live set would be empty", len(poolNodes))
	}
	return errors.Join(errs...)
}

// Start returns how many more nodes a rolling step may take out of routing now: at most
// batch in progress at once, and never more than maxUnavailable nodes of the pool out of
// routing, counting those already down, drained or in progress.
func Start(pending, inProgress, unavailable, batch, maxUnavailable int) int {
	return max(0, min(pending, batch-inProgress, maxUnavailable-unavailable))
}

// CanaryWeight is the routing weight each of n canary nodes gets so that together they take
// percent of the traffic of a pool whose other ready nodes weigh baseline in total.
func CanaryWeight(percent float64, n int, baseline float64) float64 {
	if n <= 0 || percent <= 0 || percent >= 100 || baseline <= 0 {
		return 0
	}
	return percent / (100 - percent) * baseline / float64(n)
}

// Figures are the request figures of a group of nodes over an analysis window.
type Figures struct {
	Requests, Errors uint64
	// P95 is the 95th percentile latency; zero when unknown.
	P95 time.Duration
}

// ErrorRate is errors per request; 0 without requests.
func (f Figures) ErrorRate() float64 {
	if f.Requests == 0 {
		return 0
	}
	return float64(f.Errors) / float64(f.Requests)
}

// Verdict is a canary judgement.
type Verdict struct {
	// Failed is true when the canary is worse than allowed; Reason says how.
	Failed bool
	// Enough is true when the canary served enough requests to be judged.
	Enough bool
	Reason string
}

// Judge compares a canary's figures with its baseline's over the same window.
func (s DeploySpec) Judge(canary, baseline Figures) Verdict {
	if canary.Requests < uint64(s.MinRequests) {
		return Verdict{Reason: fmt.Sprintf("the canary served %d of the %d requests needed to judge it", canary.Requests, s.MinRequests)}
	}
	cr, br := canary.ErrorRate(), baseline.ErrorRate()
	if cr-br > s.MaxErrorRateIncrease {
		return Verdict{Failed: true, Enough: true, Reason: fmt.Sprintf("canary error rate %.1f%% (%d of %d) exceeds the baseline's %.1f%% (%d of %d) by more than %.1f points",
			100*cr, canary.Errors, canary.Requests, 100*br, baseline.Errors, baseline.Requests, 100*s.MaxErrorRateIncrease)}
	}
	if baseline.P95 > 0 && canary.P95 > 0 && float64(canary.P95) > s.MaxP95Ratio*float64(baseline.P95) {
		return Verdict{Failed: true, Enough: true, Reason: fmt.Sprintf("canary p95 latency %s is above %.2f × the baseline's %s",
			canary.P95.Round(time.Microsecond), s.MaxP95Ratio, baseline.P95.Round(time.Microsecond))}
	}
	return Verdict{Enough: true, Reason: fmt.Sprintf("canary error rate %.1f%% vs baseline %.1f%%, p95 %s vs %s",
		100*cr, 100*br, canary.P95.Round(time.Microsecond), baseline.P95.Round(time.Microsecond))}
}
