package rules

import (
	"fmt"
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
	// Frozen counts the anomalous samples in a row left out of the baseline.
	Frozen int64 `json:",omitempty"`
}

// BaselineOptions tune the baselines.
type BaselineOptions struct {
	// Alpha is the weight of a new sample, 0-1 (e.g. 0.05 weighs roughly the last 20 samples).
	Alpha float64
	// MinSamples is how many samples a baseline needs before zscore is non-zero.
	MinSamples int64
	// HourAlpha weighs a sample in its hour-of-day baseline, which sees the samples of that
	// hour on every day; MinHourSamples is how many it needs before zscore_tod is non-zero.
	HourAlpha      float64
	MinHourSamples int64
	// FreezeZ keeps the baseline from absorbing an anomaly: a sample more than FreezeZ standard
	// deviations from the mean is left out, for up to MaxFrozen samples in a row, after which
	// the baseline learns the new level (a step that lasts becomes the normal). 0 folds every
	// sample in.
	FreezeZ   float64
	MaxFrozen int64
	// MinRelSD is the least standard deviation, as a share of the mean's size, that z-scores
	// are measured in: on very steady traffic a tiny wobble is not an anomaly.
	MinRelSD float64
}

// DefaultBaselineOptions are sensible for a 5 s evaluation interval: the overall baseline
// follows the last minutes, an hour-of-day baseline the last few hundred samples of its hour
// (about an hour of history) and speaks once it saw half an hour. Samples 3 standard deviations
// out are kept out of the baselines for up to 10 minutes; z-scores are measured in at least 5 %
// of the mean.
func DefaultBaselineOptions() BaselineOptions {
	return BaselineOptions{Alpha: 0.05, MinSamples: 12, HourAlpha: 0.003, MinHourSamples: 360, FreezeZ: 3, MaxFrozen: 120, MinRelSD: 0.05}
}

// Baselines are the baselines of every target ("node/<id>", "pool/<name>", "fleet") by metric;
// a metric's hour-of-day baselines sit beside it under "metric@HH" (UTC hour).
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

// Learn folds one sample into b unless it is an anomaly for b (more than o.FreezeZ from the
// mean once b has minSamples), which is left out for up to o.MaxFrozen samples in a row.
func (b Baseline) Learn(x float64, now time.Time, alpha float64, minSamples int64, o BaselineOptions) Baseline {
	anomalous := o.FreezeZ > 0 && math.Abs(b.Z(x, minSamples, o.MinRelSD)) > o.FreezeZ
	switch {
	case anomalous && b.Frozen < o.MaxFrozen:
		b.Frozen++
		return b
	case !anomalous:
		b.Frozen = 0
	}
	// A normal sample, or an anomaly that lasted MaxFrozen: learning goes on until the
	// samples are normal again.
	frozen := b.Frozen
	b = b.Update(x, now, alpha)
	b.Frozen = frozen
	return b
}

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

// Z is how many standard deviations x is from the mean, the deviation taken as at least minRelSD
// of the mean's size: 0 until the baseline has minSamples samples or while it has no spread.
func (b Baseline) Z(x float64, minSamples int64, minRelSD float64) float64 {
	sd := max(math.Sqrt(b.Variance), minRelSD*math.Abs(b.Mean))
	if b.Samples < minSamples || sd < 1e-9 {
		return 0
	}
	return (x - b.Mean) / sd
}

// UpdateBaselines folds the snapshot's samples into bl, in place, and returns it (a new map when
// bl is nil): each metric's overall baseline and its baseline for the current hour of the day
// (UTC). Targets absent from the snapshot are dropped; a node that is not up keeps its
// baselines unchanged. Callers that read bl concurrently must hold their lock.
func UpdateBaselines(bl Baselines, snap Snapshot, now time.Time, o BaselineOptions) Baselines {
	if bl == nil {
		bl = make(Baselines, len(snap.Nodes)+len(snap.Pools)+1)
	}
	hour := now.UTC().Hour()
	present := make(map[string]bool, len(snap.Nodes)+len(snap.Pools)+1)
	fold := func(target string, d DSPy, cpu, mem float64, sample bool) {
		present[target] = true
		m := bl[target]
		if m == nil {
			m = make(map[string]Baseline, len(metricFuncs)+len(hourMetrics))
			bl[target] = m
		}
		if !sample {
			return
		}
		for name, f := range metricFuncs {
			x, ok := f(d, cpu, mem)
			if !ok || math.IsNaN(x) || math.IsInf(x, 0) {
				continue
			}
			m[name] = m[name].Learn(x, now, o.Alpha, o.MinSamples, o)
			if slices.Contains(hourMetrics, name) {
				k := hourKey(name, hour)
				m[k] = m[k].Learn(x, now, o.HourAlpha, o.MinHourSamples, o)
			}
		}
	}
	for _, n := range snap.Nodes {
		fold(NodeTarget(n.ID), n.DSPy, n.Host.CPU, n.Host.Memory, n.Up)
	}
	for _, p := range snap.Pools {
		fold(PoolTarget(p.Name), p.DSPy, p.CPU, p.Memory, true)
	}
	fold(FleetTarget, snap.Fleet.DSPy, 0, 0, true)
	for t := range bl {
		if !present[t] {
			delete(bl, t)
		}
	}
	return bl
}

// hourMetrics have a time-of-day baseline besides their overall one.
var hourMetrics = []string{"error_rate", "p95_ms", "p99_ms", "rps"}

// HourMetrics lists the metrics baseline_tod() and zscore_tod() accept.
func HourMetrics() []string { return slices.Clone(hourMetrics) }

// hourKey names the baseline of metric in one hour of the day (UTC).
func hourKey(metric string, hour int) string {
	return fmt.Sprintf("%s@%02d", metric, hour)
}

// baselineVars returns the means and z-scores of target's metrics for conditions, overall and
// for the current hour of the day.
func baselineVars(bl Baselines, target string, d DSPy, cpu, mem float64, now time.Time, o BaselineOptions) (mean, z, hourMean, hourZ map[string]float64) {
	mean = make(map[string]float64, len(metricFuncs))
	z = make(map[string]float64, len(metricFuncs))
	hourMean = make(map[string]float64, len(hourMetrics))
	hourZ = make(map[string]float64, len(hourMetrics))
	hour := now.UTC().Hour()
	m := bl[target]
	for name, f := range metricFuncs {
		x, ok := f(d, cpu, mem)
		b := m[name]
		mean[name], z[name] = b.Mean, 0
		if ok {
			z[name] = b.Z(x, o.MinSamples, o.MinRelSD)
		}
		if slices.Contains(hourMetrics, name) {
			hb := m[hourKey(name, hour)]
			hourMean[name], hourZ[name] = hb.Mean, 0
			if ok {
				hourZ[name] = hb.Z(x, o.MinHourSamples, o.MinRelSD)
			}
		}
	}
	return mean, z, hourMean, hourZ
}
