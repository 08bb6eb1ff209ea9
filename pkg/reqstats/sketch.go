package reqstats

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"
)

// Sketch bounds.
const (
	// DefaultRelativeAccuracy is the accuracy NewSketch uses when given an invalid one.
	DefaultRelativeAccuracy = 0.01
	// MinRelativeAccuracy is the finest accuracy a Sketch takes: it keeps every bucket index
	// of a finite float64 within an int32.
	MinRelativeAccuracy = 1e-6
	// MaxRelativeAccuracy bounds the accuracy from above; it is itself excluded.
	MaxRelativeAccuracy = 0.5
	// MaxBuckets bounds the buckets a Sketch keeps. Beyond it the lowest buckets collapse into
	// the lowest kept one, so low quantiles lose accuracy and high ones keep it.
	MaxBuckets = 4096
)

// minValue is the largest value, in milliseconds, that a Sketch counts as zero.
const minValue = 1e-6

// minBins is the smallest bucket slice a Sketch allocates.
const minBins = 32

// Sketch errors.
var (
	// ErrAccuracyMismatch refuses to merge sketches of different relative accuracy.
	ErrAccuracyMismatch = errors.New("sketches have different relative accuracy")
	// ErrInvalidSketch marks every error of FromBuckets.
	ErrInvalidSketch = errors.New("invalid sketch")
)

// Sketch is a DDSketch-style mergeable distribution of values in milliseconds. A value v above
// 1e-6 ms goes to bucket ceil(log_γ(v)) with γ = (1+a)/(1-a) for relative accuracy a; values at
// or below it count as zero. Quantile answers within relative error a of the true rank-based
// quantile, except for values counted as zero (answered as Min, within 1e-6 ms) and for buckets
// collapsed after MaxBuckets was exceeded. Count, Min and Max are exact; Sum is the
// floating-point sum.
//
// Create one with NewSketch or FromBuckets. A Sketch is not safe for concurrent use. A nil
// *Sketch reads as empty.
type Sketch struct {
	mapping

	// bins[i] counts bucket binOffset+i. Buckets minKey..maxKey hold every non-zero count and
	// both ends are non-zero whenever count > zero; the rest of bins is zero slack for growth.
	bins      []uint64
	binOffset int32
	minKey    int32
	maxKey    int32

	zero     uint64 // values ≤ minValue
	count    uint64 // all values, zero included
	sum      float64
	min, max float64
}

// NewSketch returns an empty sketch of the given relative accuracy, or of
// DefaultRelativeAccuracy when that is outside [MinRelativeAccuracy, MaxRelativeAccuracy).
func NewSketch(relativeAccuracy float64) *Sketch {
	if !validAccuracy(relativeAccuracy) {
		relativeAccuracy = DefaultRelativeAccuracy
	}
	return &Sketch{mapping: newMapping(relativeAccuracy)}
}

// mapping maps values to buckets for one relative accuracy. It never changes, so an Aggregator
// uses one to find buckets outside its lock.
type mapping struct {
	accuracy    float64
	gamma       float64
	logGamma    float64
	invLogGamma float64
}

// newMapping returns the mapping of a valid relative accuracy.
func newMapping(relativeAccuracy float64) mapping {
	gamma := (1 + relativeAccuracy) / (1 - relativeAccuracy)
	logGamma := math.Log(gamma)
	return mapping{accuracy: relativeAccuracy, gamma: gamma, logGamma: logGamma, invLogGamma: 1 / logGamma}
}

func validAccuracy(a float64) bool {
	return a >= MinRelativeAccuracy && a < MaxRelativeAccuracy
}

// Add adds one value in milliseconds. NaN, infinite and negative values are ignored: callers
// validate.
func (s *Sketch) Add(v float64) { s.AddN(v, 1) }

// AddN adds n copies of a value in milliseconds, ignoring what Add ignores.
func (s *Sketch) AddN(v float64, n uint64) {
	if n == 0 || !(v >= 0) || math.IsInf(v, 1) {
		return
	}
	k, zero := s.bin(v)
	s.addAt(v, k, zero, n)
}

// bin returns the bucket of a finite value, or zero = true for a value at most 1e-6
// (negative ones included: callers leave those out).
func (m mapping) bin(v float64) (k int32, zero bool) {
	if v <= minValue {
		return 0, true
	}
	return int32(math.Ceil(math.Log(v) * m.invLogGamma)), false
}

// addAt adds n copies of v, whose bucket bin found with this sketch's mapping.
func (s *Sketch) addAt(v float64, k int32, zero bool, n uint64) {
	if zero {
		s.zero += n
	} else {
		if s.count == s.zero || k < s.minKey || k > s.maxKey {
			k = max(k, s.reserve(k, k))
		}
		s.bins[k-s.binOffset] += n
	}
	if s.count == 0 {
		s.min, s.max = v, v
	} else {
		s.min, s.max = min(s.min, v), max(s.max, v)
	}
	s.count += n
	s.sum = min(s.sum+v*float64(n), math.MaxFloat64)
}

// reserve readies the bins for counts at buckets lo..hi and returns the lowest bucket kept.
// When the buckets would span more than MaxBuckets, those below the lowest kept one collapse
// into it, and the caller must add a count for bucket k to max(k, floor). The caller must add
// counts at lo and hi, which keeps both ends of minKey..maxKey non-zero.
func (s *Sketch) reserve(lo, hi int32) (floor int32) {
	hasData := s.count > s.zero
	if hasData {
		lo, hi = min(lo, s.minKey), max(hi, s.maxKey)
	}
	floor = lo
	if int64(hi)-int64(lo) >= MaxBuckets {
		floor = hi - (MaxBuckets - 1)
	}
	dataLo, dataHi := s.minKey, s.maxKey
	var moved uint64
	if hasData && dataLo < floor {
		for k := dataLo; k <= min(dataHi, floor-1); k++ {
			moved += s.bins[k-s.binOffset]
			s.bins[k-s.binOffset] = 0
		}
		dataLo = floor
	}
	s.grow(floor, hi, dataLo, dataHi, hasData && dataLo <= dataHi)
	s.bins[floor-s.binOffset] += moved
	s.minKey, s.maxKey = floor, hi
	return floor
}

// grow makes bins cover buckets lo..hi (at most MaxBuckets of them), keeping the counts of
// buckets dataLo..dataHi when hasData. Every other bucket must already be zero.
func (s *Sketch) grow(lo, hi, dataLo, dataHi int32, hasData bool) {
	if lo >= s.binOffset && int(hi-s.binOffset) < len(s.bins) {
		return
	}
	need := int(hi-lo) + 1
	size := min(max(2*need, minBins, cap(s.bins)), MaxBuckets)
	off := lo - int32((size-need)/2)
	var nb []uint64
	if cap(s.bins) >= size {
		nb = s.bins[:size] // shift in place; copy is a memmove
	} else {
		nb = make([]uint64, size)
	}
	if hasData {
		at := int(dataLo - off)
		n := copy(nb[at:], s.bins[dataLo-s.binOffset:dataHi-s.binOffset+1])
		clear(nb[:at])
		clear(nb[at+n:])
	} else {
		clear(nb)
	}
	s.bins, s.binOffset = nb, off
}

// Merge adds every value of o to s. It refuses a sketch of different relative accuracy.
func (s *Sketch) Merge(o *Sketch) error {
	if o == nil {
		return nil
	}
	if o.accuracy != s.accuracy {
		return fmt.Errorf("%w: %g and %g", ErrAccuracyMismatch, s.accuracy, o.accuracy)
	}
	s.merge(o)
	return nil
}

// merge is Merge for sketches already known to share an accuracy.
func (s *Sketch) merge(o *Sketch) {
	if o.count == 0 {
		return
	}
	if o == s {
		o = o.Clone()
	}
	if o.count > o.zero {
		floor := s.reserve(o.minKey, o.maxKey)
		for k := o.minKey; k <= o.maxKey; k++ {
			s.bins[max(k, floor)-s.binOffset] += o.bins[k-o.binOffset]
		}
	}
	if s.count == 0 {
		s.min, s.max = o.min, o.max
	} else {
		s.min, s.max = min(s.min, o.min), max(s.max, o.max)
	}
	s.count += o.count
	s.zero += o.zero
	s.sum = min(s.sum+o.sum, math.MaxFloat64)
}

// Quantile returns the value at rank ceil(q×Count) of the added values (rank 1 is the
// smallest), within the sketch's relative accuracy. q is clamped to [0, 1], NaN counts as 0;
// q = 0 returns Min and q = 1 returns Max. An empty sketch returns 0.
func (s *Sketch) Quantile(q float64) float64 {
	switch {
	case s == nil || s.count == 0:
		return 0
	case !(q > 0):
		return s.min
	case q >= 1:
		return s.max
	}
	rank := min(max(uint64(math.Ceil(q*float64(s.count))), 1), s.count)
	seen := s.zero
	if rank <= seen {
		return s.min // every zero value is in [Min, 1e-6]
	}
	for k := s.minKey; k <= s.maxKey; k++ {
		if seen += s.bins[k-s.binOffset]; seen >= rank {
			// The bucket holds (γ^(k-1), γ^k]; its midpoint estimate is within a of each.
			v := 2 * math.Exp(float64(k)*s.logGamma) / (s.gamma + 1)
			return min(max(v, s.min), s.max)
		}
	}
	return s.max // unreachable while the counts add up
}

// Count returns the number of values added.
func (s *Sketch) Count() uint64 {
	if s == nil {
		return 0
	}
	return s.count
}

// Sum returns the sum of the values added, saturating at math.MaxFloat64.
func (s *Sketch) Sum() float64 {
	if s == nil {
		return 0
	}
	return s.sum
}

// Min returns the smallest value added, 0 for an empty sketch.
func (s *Sketch) Min() float64 {
	if s == nil {
		return 0
	}
	return s.min
}

// Max returns the largest value added, 0 for an empty sketch.
func (s *Sketch) Max() float64 {
	if s == nil {
		return 0
	}
	return s.max
}

// RelativeAccuracy returns the sketch's relative accuracy a.
func (s *Sketch) RelativeAccuracy() float64 {
	if s == nil {
		return 0
	}
	return s.accuracy
}

// CountsAtMost sets out[i] to how many values are at most bounds[i] milliseconds, within the
// sketch's relative accuracy: every value of a bound's bucket counts, so values up to
// bound×(1+accuracy)/(1-accuracy) may. bounds must ascend and out be as long. It walks the
// buckets once, however many bounds: what a Prometheus histogram's cumulative buckets need, on
// every report.
func (s *Sketch) CountsAtMost(bounds []float64, out []uint64) {
	clear(out)
	if s == nil || s.count == 0 {
		return
	}
	key, n := s.minKey, s.zero
	for i, v := range bounds {
		if !(v >= 0) {
			continue
		}
		if v > minValue && s.count > s.zero {
			k, _ := s.bin(v)
			for ; key <= min(k, s.maxKey); key++ {
				n += s.bins[key-s.binOffset]
			}
		}
		out[i] = n
	}
}

// Reset empties s, keeping its accuracy and its storage for the next values.
func (s *Sketch) Reset() {
	clear(s.bins)
	s.minKey, s.maxKey = 0, 0
	s.zero, s.count, s.sum, s.min, s.max = 0, 0, 0, 0, 0
}

// Clone returns an independent copy of s.
func (s *Sketch) Clone() *Sketch {
	if s == nil {
		return nil
	}
	c := *s
	c.bins, c.binOffset = nil, 0
	if s.count > s.zero {
		c.bins = slices.Clone(s.bins[s.minKey-s.binOffset : s.maxKey-s.binOffset+1])
		c.binOffset = s.minKey
	}
	return &c
}

// Buckets returns the sketch's buckets for the wire: counts[i] counts bucket offset+i, and the
// first and last counts are non-zero (counts is empty, and offset 0, when every value was zero).
// zeroCount counts the values at or below 1e-6 ms. The slice is a copy.
func (s *Sketch) Buckets() (offset int32, counts []uint64, zeroCount uint64) {
	if s == nil {
		return 0, nil, 0
	}
	if s.count > s.zero {
		offset = s.minKey
		counts = slices.Clone(s.bins[s.minKey-s.binOffset : s.maxKey-s.binOffset+1])
	}
	return offset, counts, s.zero
}

// FromBuckets rebuilds a sketch from what Buckets, Sum, Min and Max returned. It refuses an
// accuracy outside [MinRelativeAccuracy, MaxRelativeAccuracy), more than MaxBuckets counts,
// buckets no finite value could reach, counts that overflow, a negative or non-finite sum, min
// or max, and min > max when there are values. Leading and trailing zero counts are dropped;
// an empty result has sum, min and max 0.
func FromBuckets(relativeAccuracy float64, offset int32, counts []uint64, zeroCount uint64, sum, min, max float64) (*Sketch, error) {
	bad := func(format string, args ...any) (*Sketch, error) {
		return nil, fmt.Errorf("%w: %s", ErrInvalidSketch, fmt.Sprintf(format, args...))
	}
	if !validAccuracy(relativeAccuracy) {
		return bad("relative accuracy %g is outside [%g, %g)", relativeAccuracy, float64(MinRelativeAccuracy), float64(MaxRelativeAccuracy))
	}
	if len(counts) > MaxBuckets {
		return bad("%d buckets, more than %d", len(counts), MaxBuckets)
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"sum", sum}, {"min", min}, {"max", max}} {
		if !(f.v >= 0) || math.IsInf(f.v, 1) {
			return bad("%s %g is not a finite, non-negative number", f.name, f.v)
		}
	}
	s := NewSketch(relativeAccuracy)
	total := zeroCount
	for _, c := range counts {
		var carry uint64
		if total, carry = bits.Add64(total, c, 0); carry != 0 {
			return bad("counts overflow")
		}
	}
	if total == 0 {
		return s, nil
	}
	if min > max {
		return bad("min %g is above max %g", min, max)
	}
	first := slices.IndexFunc(counts, func(c uint64) bool { return c != 0 })
	if first >= 0 {
		last := len(counts) - 1
		for counts[last] == 0 {
			last--
		}
		// Allow one bucket of slack either side for rounding on another platform.
		lowest, _ := s.bin(math.Nextafter(minValue, math.Inf(1)))
		highest, _ := s.bin(math.MaxFloat64)
		lo, hi := int64(offset)+int64(first), int64(offset)+int64(last)
		if lo < int64(lowest)-1 || hi > int64(highest)+1 {
			return bad("buckets %d..%d are outside %d..%d", lo, hi, lowest-1, highest+1)
		}
		s.bins = slices.Clone(counts[first : last+1])
		s.binOffset, s.minKey, s.maxKey = int32(lo), int32(lo), int32(hi)
	}
	s.zero, s.count = zeroCount, total
	s.sum, s.min, s.max = sum, min, max
	return s, nil
}
