package rules

import (
	"math"
	"slices"
	"time"
)

// Baseline is an exponentially weighted mean and variance of one metric of one target.
type Baseline struct {
	Mean     float64
	Variance float64
	Samples  int64
	Updated  time.Time
}

// BaselineOptions tune the baselines.
type BaselineOptions struct {
	// Alpha is the weight of a new sample, 0-1 (e.g. 0.05 weighs roughly the last 20 samples).
	Alpha float64
	// MinSamples is how many samples a baseline needs before zscore is non-zero.
	MinSamples int64
}

// DefaultBaselineOptions are sensible for a 5 s evaluation interval.
func DefaultBaselineOptions() BaselineOptions {
	return BaselineOptions{Alpha: 0.05, MinSamples: 12}
}

// Baselines are the baselines of every target ("node/<id>", "pool/<name>", "fleet") by metric.
type Baselines map[string]map[string]Baseline

// metricFuncs reads each baseline metric from a DSPy and host pair; ok is false when the figure
// has no sample (latency without requests).
var metricFuncs = map[string]func(d DSPy, cpu, mem float64) (float64, bool){
	"cpu":             func(_ DSPy, cpu, _ float64) (float64, bool) { return cpu, true },
	"memory":          func(_ DSPy, _, mem float64) (float64, bool) { return mem, true },
	"rps":             func(d DSPy, _, _ float64) (float64, bool) { return d.RPS, true },
	"in_flight":       func(d DSPy, _, _ float64) (float64, bool) { return float64(d.InFlight), true },
	"error_rate":      func(d DSPy, _, _ float64) (float64, bool) { return d.ErrorRate, d.Requests > 0 },
	"p50_ms":          func(d DSPy, _, _ float64) (float64, bool) { return d.P50Ms, d.Requests > 0 },
	"p95_ms":          func(d DSPy, _, _ float64) (float64, bool) { return d.P95Ms, d.Requests > 0 },
	"p99_ms":          func(d DSPy, _, _ float64) (float64, bool) { return d.P99Ms, d.Requests > 0 },
	"ttft_ms":         func(d DSPy, _, _ float64) (float64, bool) { return d.TTFTMs, d.TTFTMs > 0 },
	"cache_hit_ratio": func(d DSPy, _, _ float64) (float64, bool) { return d.CacheHit, d.Requests > 0 },
}

// BaselineMetrics lists the metrics baseline() and zscore() accept, sorted.
func BaselineMetrics() []string {
	out := make([]string, 0, len(metricFuncs))
	for k := range metricFuncs {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// NodeTarget, PoolTarget and FleetTarget name the targets of alerts and baselines.
func NodeTarget(id string) string { return "node/" + id }

// PoolTarget names a pool target.
func PoolTarget(name string) string { return "pool/" + name }

// FleetTarget names the fleet target.
const FleetTarget = "fleet"

// Update folds one sample into b.
func (b Baseline) Update(x float64, now time.Time, alpha float64) Baseline {
	if b.Samples == 0 {
		return Baseline{Mean: x, Samples: 1, Updated: now}
	}
	diff := x - b.Mean
	incr := alpha * diff
	b.Mean += incr
	b.Variance = (1 - alpha) * (b.Variance + diff*incr)
	b.Samples++
	b.Updated = now
	return b
}

// Z is how many standard deviations x is from the mean: 0 until the baseline has MinSamples
// samples or while it has no spread.
func (b Baseline) Z(x float64, minSamples int64) float64 {
	sd := math.Sqrt(b.Variance)
	if b.Samples < minSamples || sd < 1e-9 {
		return 0
	}
	return (x - b.Mean) / sd
}

// UpdateBaselines returns the baselines with the snapshot's samples folded in; targets absent
// from the snapshot are dropped. prev is not modified.
func UpdateBaselines(prev Baselines, snap Snapshot, now time.Time, o BaselineOptions) Baselines {
	next := make(Baselines, len(snap.Nodes)+len(snap.Pools)+1)
	fold := func(target string, d DSPy, cpu, mem float64) {
		old := prev[target]
		m := make(map[string]Baseline, len(metricFuncs))
		for name, f := range metricFuncs {
			b := old[name]
			if x, ok := f(d, cpu, mem); ok && !math.IsNaN(x) && !math.IsInf(x, 0) {
				b = b.Update(x, now, o.Alpha)
			}
			m[name] = b
		}
		next[target] = m
	}
	for _, n := range snap.Nodes {
		if n.Up {
			fold(NodeTarget(n.ID), n.DSPy, n.Host.CPU, n.Host.Memory)
		}
	}
	for _, p := range snap.Pools {
		fold(PoolTarget(p.Name), p.DSPy, p.CPU, p.Memory)
	}
	fold(FleetTarget, snap.Fleet.DSPy, 0, 0)
	return next
}

// baselineVars returns the means and z-scores of target's metrics for conditions.
func baselineVars(bl Baselines, target string, d DSPy, cpu, mem float64, o BaselineOptions) (mean, z map[string]float64) {
	mean = make(map[string]float64, len(metricFuncs))
	z = make(map[string]float64, len(metricFuncs))
	for name, f := range metricFuncs {
		b := bl[target][name]
		mean[name] = b.Mean
		if x, ok := f(d, cpu, mem); ok {
			z[name] = b.Z(x, o.MinSamples)
		} else {
			z[name] = 0
		}
	}
	return mean, z
}
