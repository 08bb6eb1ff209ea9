package reqstats

import (
	"encoding/binary"
	"math"
	"slices"
	"testing"
)

// fuzzQuantiles covers the ends, the usual quantiles and a few in between.
var fuzzQuantiles = []float64{0, 0.001, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1}

// checkAnswers fails unless the quantiles of s are non-decreasing and within [Min, Max].
func checkAnswers(t *testing.T, s *Sketch) {
	t.Helper()
	prev := math.Inf(-1)
	for _, q := range fuzzQuantiles {
		v := s.Quantile(q)
		if s.Count() > 0 && (v < s.Min() || v > s.Max() || v < prev) {
			t.Fatalf("Quantile(%g) = %g: outside [%g, %g] or below the previous %g", q, v, s.Min(), s.Max(), prev)
		}
		prev = v
	}
}

// FuzzFromBuckets: FromBuckets never panics, and an accepted sketch answers quantiles within
// [min, max], counts what it was given, and survives Buckets, Merge and Add.
func FuzzFromBuckets(f *testing.F) {
	f.Add(0.01, int32(10), []byte{1, 0, 0, 0, 3, 0}, uint64(2), 100.0, 0.0, 60.0)
	f.Add(0.01, int32(-700), []byte{255, 255}, uint64(0), 1.0, 1e-6, 1e-5)
	f.Add(0.3, int32(math.MaxInt32), []byte{1, 0}, uint64(0), 1.0, 1.0, 1.0)
	f.Add(1e-6, int32(0), []byte{}, uint64(math.MaxUint64), 0.0, 0.0, 0.0)
	f.Fuzz(func(t *testing.T, accuracy float64, offset int32, raw []byte, zero uint64, sum, min, max float64) {
		counts := make([]uint64, len(raw)/2)
		for i := range counts {
			counts[i] = uint64(binary.LittleEndian.Uint16(raw[2*i:]))
		}
		s, err := FromBuckets(accuracy, offset, counts, zero, sum, min, max)
		if err != nil {
			return
		}
		var total uint64 = zero
		for _, c := range counts {
			total += c
		}
		if s.Count() != total {
			t.Fatalf("Count = %d, want %d", s.Count(), total)
		}
		checkAnswers(t, s)
		off, got, gotZero := s.Buckets()
		again, err := FromBuckets(s.RelativeAccuracy(), off, got, gotZero, s.Sum(), s.Min(), s.Max())
		if err != nil {
			t.Fatalf("Buckets of an accepted sketch refused: %v", err)
		}
		assertSameSketch(t, s, again)
		if err := again.Merge(s); err != nil || again.Count() != 2*total {
			t.Fatalf("Merge: %v, Count %d", err, again.Count())
		}
		checkAnswers(t, again)
		again.Add(42)
		checkAnswers(t, again)
	})
}

// FuzzSketchAdd: any values, added one by one, give exact Count, Min and Max, quantiles within
// [Min, Max] and within the accuracy while nothing collapsed, and a sketch FromBuckets accepts.
func FuzzSketchAdd(f *testing.F) {
	f.Add(0.01, binary.LittleEndian.AppendUint64(nil, math.Float64bits(12.5)))
	f.Add(0.2, binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(nil, math.Float64bits(1e-9)), math.Float64bits(math.MaxFloat64)))
	f.Add(1e-6, binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(nil, math.Float64bits(1)), math.Float64bits(2)))
	f.Add(0.0, []byte{0, 0, 0, 0, 0, 0, 0xf8, 0x7f, 1, 2, 3, 4, 5, 6, 7, 8})
	f.Fuzz(func(t *testing.T, accuracy float64, raw []byte) {
		s := NewSketch(accuracy)
		var values []float64
		for i := 0; i+8 <= len(raw); i += 8 {
			v := math.Float64frombits(binary.LittleEndian.Uint64(raw[i:]))
			s.Add(v)
			if v >= 0 && !math.IsInf(v, 1) {
				values = append(values, v)
			}
		}
		if s.Count() != uint64(len(values)) {
			t.Fatalf("Count = %d, want %d", s.Count(), len(values))
		}
		checkAnswers(t, s)
		if len(values) == 0 {
			return
		}
		sorted := slices.Sorted(slices.Values(values))
		if s.Min() != sorted[0] || s.Max() != sorted[len(sorted)-1] {
			t.Fatalf("Min, Max = %g, %g, want %g, %g", s.Min(), s.Max(), sorted[0], sorted[len(sorted)-1])
		}
		off, counts, zero := s.Buckets()
		if len(counts) < MaxBuckets { // nothing collapsed
			for _, q := range fuzzQuantiles {
				want, got := exactQuantile(sorted, q), s.Quantile(q)
				if want <= minValue {
					if math.Abs(got-want) > minValue {
						t.Fatalf("Quantile(%g) = %g, exact %g", q, got, want)
					}
				} else if err := math.Abs(got-want) / want; err > s.RelativeAccuracy()+slack {
					t.Fatalf("Quantile(%g) = %g, exact %g, relative error %g", q, got, want, err)
				}
			}
		}
		r, err := FromBuckets(s.RelativeAccuracy(), off, counts, zero, s.Sum(), s.Min(), s.Max())
		if err != nil {
			t.Fatalf("FromBuckets refused Buckets: %v", err)
		}
		assertSameSketch(t, s, r)
	})
}
