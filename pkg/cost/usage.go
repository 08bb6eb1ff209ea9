package cost

import "math"

// Histogram counts utilisation samples (percent, 0-100) in 101 one-percent buckets, so p95
// over days of samples is exact to a percent in constant space and merges by adding.
type Histogram [101]uint32

// Add counts one sample; values outside 0-100 are clamped, NaN is ignored.
func (h *Histogram) Add(percent float64) {
	if math.IsNaN(percent) {
		return
	}
	h[int(math.Round(min(max(percent, 0), 100)))]++
}

// Merge adds o's counts to h.
func (h *Histogram) Merge(o Histogram) {
	for i, n := range o {
		h[i] += n
	}
}

// Count returns the number of samples.
func (h *Histogram) Count() uint64 {
	var n uint64
	for _, c := range h {
		n += uint64(c)
	}
	return n
}

// Quantile returns the smallest bucket at or below which a share q of the samples fall, false
// when there are none.
func (h *Histogram) Quantile(q float64) (float64, bool) {
	n := h.Count()
	if n == 0 {
		return 0, false
	}
	rank := uint64(math.Ceil(q * float64(n)))
	var seen uint64
	for i, c := range h {
		seen += uint64(c)
		if seen >= max(rank, 1) {
			return float64(i), true
		}
	}
	return 100, true
}
