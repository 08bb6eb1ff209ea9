package logtemplate

import "math"

// Baseline is an exponentially weighted mean and variance of one template's rate (lines or
// errors per minute) over report windows.
type Baseline struct {
	Mean     float64
	Variance float64
	Samples  int64
}

// Update folds one sample into b with weight alpha (0-1) and returns the new baseline.
func (b Baseline) Update(x, alpha float64) Baseline {
	if b.Samples == 0 {
		return Baseline{Mean: x, Samples: 1}
	}
	d := x - b.Mean
	mean := b.Mean + alpha*d
	return Baseline{Mean: mean, Variance: (1 - alpha) * (b.Variance + alpha*d*d), Samples: b.Samples + 1}
}

// Score is how far x stands above the baseline in standard deviations, the variance floored at
// the mean plus one (Poisson-like counts: a steady template of 2 lines/min seeing 4 is no
// alarm). A baseline of fewer than minSamples samples scores 0; so does x at or below the mean.
func (b Baseline) Score(x float64, minSamples int64) float64 {
	if b.Samples < minSamples || x <= b.Mean {
		return 0
	}
	v := math.Max(b.Variance, b.Mean+1)
	return (x - b.Mean) / math.Sqrt(v)
}
