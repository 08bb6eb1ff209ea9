package reqstats

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// The quantiles every accuracy test checks.
var testQuantiles = []float64{0.5, 0.9, 0.95, 0.99}

// slack absorbs floating-point rounding when a value sits on a bucket boundary.
const slack = 1e-9

// exactQuantile is the definition the sketch guarantees: the value at rank ceil(q×n) of the
// sorted values, rank 1 being the smallest (q = 0 gives the minimum). DDSketch's bound holds for
// this rank-based quantile, not for an interpolated one.
func exactQuantile(sorted []float64, q float64) float64 {
	n := len(sorted)
	rank := min(max(int(math.Ceil(q*float64(n))), 1), n)
	return sorted[rank-1]
}

// checkQuantiles fails unless every test quantile of s is within a of the exact one.
func checkQuantiles(t *testing.T, s *Sketch, values []float64, qs []float64) {
	t.Helper()
	sorted := slices.Sorted(slices.Values(values))
	a := s.RelativeAccuracy()
	for _, q := range qs {
		want, got := exactQuantile(sorted, q), s.Quantile(q)
		if err := math.Abs(got-want) / want; err > a+slack {
			t.Errorf("q=%g: got %g, exact %g, relative error %.6f > %g", q, got, want, err, a)
		}
	}
}

func sketchOf(a float64, values []float64) *Sketch {
	s := NewSketch(a)
	for _, v := range values {
		s.Add(v)
	}
	return s
}

// distributions returns n values from each test distribution, seeded.
func distributions(n int) map[string][]float64 {
	r := rand.New(rand.NewPCG(1, 2))
	gen := func(f func() float64) []float64 {
		vs := make([]float64, n)
		for i := range vs {
			vs[i] = f()
		}
		return vs
	}
	return map[string][]float64{
		"uniform":   gen(func() float64 { return 1 + 999*r.Float64() }),
		"lognormal": gen(func() float64 { return math.Exp(math.Log(200) + r.NormFloat64()) }),
		"constant":  gen(func() float64 { return 42.5 }),
		// Pareto with alpha 1.1: infinite variance, a tail of huge outliers.
		"heavy tail":            gen(func() float64 { return 10 / math.Pow(1-r.Float64(), 1/1.1) }),
		"log-uniform 1e-3..1e7": gen(func() float64 { return math.Pow(10, -3+10*r.Float64()) }),
	}
}

func TestSketchAccuracy(t *testing.T) {
	for name, values := range distributions(20000) {
		for _, a := range []float64{0.01, 0.02, 0.05} { // finer ones collapse on the wide distributions
			s := sketchOf(a, values)
			checkQuantiles(t, s, values, testQuantiles)
			if s.Count() != uint64(len(values)) {
				t.Errorf("%s: Count = %d, want %d", name, s.Count(), len(values))
			}
			if s.Min() != slices.Min(values) || s.Max() != slices.Max(values) {
				t.Errorf("%s: Min, Max = %g, %g, want %g, %g", name, s.Min(), s.Max(), slices.Min(values), slices.Max(values))
			}
			if s.Quantile(0) != s.Min() || s.Quantile(1) != s.Max() {
				t.Errorf("%s: Quantile(0), Quantile(1) = %g, %g, want Min, Max", name, s.Quantile(0), s.Quantile(1))
			}
		}
	}
}

func TestSketchEdges(t *testing.T) {
	var nilSketch *Sketch
	if off, counts, zero := nilSketch.Buckets(); nilSketch.Count() != 0 || nilSketch.Quantile(0.5) != 0 ||
		nilSketch.Sum() != 0 || nilSketch.Min() != 0 || nilSketch.Max() != 0 || nilSketch.RelativeAccuracy() != 0 ||
		nilSketch.Clone() != nil || off != 0 || counts != nil || zero != 0 {
		t.Fatal("a nil sketch must read as empty")
	}
	s := NewSketch(0) // invalid: the default
	if s.RelativeAccuracy() != DefaultRelativeAccuracy {
		t.Fatalf("RelativeAccuracy = %g, want the default", s.RelativeAccuracy())
	}
	if s.Quantile(0.5) != 0 || s.Min() != 0 || s.Max() != 0 {
		t.Fatal("an empty sketch must answer 0")
	}
	for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1), -1} {
		s.Add(v)
	}
	s.AddN(5, 0)
	if s.Count() != 0 {
		t.Fatalf("ignored values were counted: Count = %d", s.Count())
	}
	s.Add(0)
	s.Add(1e-7)
	s.AddN(10, 3)
	if off, counts, zero := s.Buckets(); zero != 2 || len(counts) != 1 || counts[0] != 3 {
		t.Fatalf("Buckets = %d %v %d, want two zeros and one bucket of 3", off, counts, zero)
	}
	if s.Count() != 5 || s.Sum() != 30+1e-7 {
		t.Fatalf("Count, Sum = %d, %g", s.Count(), s.Sum())
	}
	for q, want := range map[float64]float64{-1: 0, math.NaN(): 0, 0.2: 0, 0.4: 0, 0.6: 10, 1: 10, 7: 10} {
		if got := s.Quantile(q); math.Abs(got-want) > want*0.01+1e-6 {
			t.Errorf("Quantile(%g) = %g, want %g", q, got, want)
		}
	}
	s.AddN(math.MaxFloat64, 4)
	if s.Sum() != math.MaxFloat64 {
		t.Fatalf("Sum = %g, want it saturated at MaxFloat64", s.Sum())
	}
}

func TestSketchMerge(t *testing.T) {
	ds := distributions(10000)
	pairs := [][2]string{{"lognormal", "heavy tail"}, {"uniform", "constant"}, {"log-uniform 1e-3..1e7", "lognormal"}}
	for _, p := range pairs {
		a, b := ds[p[0]], ds[p[1]][:7000]
		sa, sb := sketchOf(0.01, a), sketchOf(0.01, b)
		ab := sa.Clone()
		if err := ab.Merge(sb); err != nil {
			t.Fatal(err)
		}
		ba := sb.Clone()
		if err := ba.Merge(sa); err != nil {
			t.Fatal(err)
		}
		empty := NewSketch(0.01)
		if err := empty.Merge(sa); err != nil {
			t.Fatal(err)
		}
		assertSameSketch(t, empty, sa)
		union := slices.Concat(a, b)
		checkQuantiles(t, ab, union, testQuantiles)
		assertSameSketch(t, ab, ba)
		assertSameSketch(t, ab, sketchOf(0.01, union))
		if sa.Count() != uint64(len(a)) {
			t.Fatal("Merge changed its argument's clone source")
		}
	}

	s := sketchOf(0.01, ds["uniform"])
	double := sketchOf(0.01, slices.Concat(ds["uniform"], ds["uniform"]))
	if err := s.Merge(s); err != nil {
		t.Fatal(err)
	}
	assertSameSketch(t, s, double)

	if err := NewSketch(0.01).Merge(NewSketch(0.02)); !errors.Is(err, ErrAccuracyMismatch) {
		t.Fatalf("Merge of another accuracy: %v, want ErrAccuracyMismatch", err)
	}
	if err := s.Merge(nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Merge(NewSketch(0.01)); err != nil || s.Count() != double.Count() {
		t.Fatalf("Merge of an empty sketch: %v, Count %d", err, s.Count())
	}
}

// assertSameSketch fails unless x and y hold equal buckets and counts, and sums within rounding.
func assertSameSketch(t *testing.T, x, y *Sketch) {
	t.Helper()
	xo, xc, xz := x.Buckets()
	yo, yc, yz := y.Buckets()
	if xo != yo || xz != yz || !slices.Equal(xc, yc) {
		t.Fatalf("buckets differ: offset %d/%d, zero %d/%d, %d/%d counts", xo, yo, xz, yz, len(xc), len(yc))
	}
	if x.Count() != y.Count() || x.Min() != y.Min() || x.Max() != y.Max() ||
		math.Abs(x.Sum()-y.Sum()) > 1e-9*math.Abs(x.Sum()) {
		t.Fatalf("count/min/max/sum differ: %d %g %g %g vs %d %g %g %g",
			x.Count(), x.Min(), x.Max(), x.Sum(), y.Count(), y.Min(), y.Max(), y.Sum())
	}
}

func TestBucketsRoundTrip(t *testing.T) {
	for name, values := range distributions(5000) {
		s := sketchOf(0.02, values)
		s.AddN(0, 7)
		off, counts, zero := s.Buckets()
		if counts[0] == 0 || counts[len(counts)-1] == 0 {
			t.Fatalf("%s: Buckets has zero ends", name)
		}
		r, err := FromBuckets(s.RelativeAccuracy(), off, counts, zero, s.Sum(), s.Min(), s.Max())
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		assertSameSketch(t, s, r)
		for _, q := range []float64{0, 0.001, 0.25, 0.5, 0.99, 1} {
			if s.Quantile(q) != r.Quantile(q) {
				t.Errorf("%s: Quantile(%g) %g after the round trip, %g before", name, q, r.Quantile(q), s.Quantile(q))
			}
		}
		counts[0]++ // Buckets returns a copy
		if _, c, _ := s.Buckets(); c[0] == counts[0] {
			t.Fatalf("%s: Buckets shares its slice", name)
		}
	}

	// Zero ends are trimmed; an empty sketch round-trips to an empty one.
	s, err := FromBuckets(0.01, 10, []uint64{0, 0, 3, 0, 2, 0}, 1, 100, 0, 60)
	if err != nil {
		t.Fatal(err)
	}
	if off, counts, zero := s.Buckets(); off != 12 || !slices.Equal(counts, []uint64{3, 0, 2}) || zero != 1 || s.Count() != 6 {
		t.Fatalf("Buckets = %d %v %d, Count %d", off, counts, zero, s.Count())
	}
	s.Add(1) // a rebuilt sketch keeps working
	if s.Count() != 7 {
		t.Fatal("Add after FromBuckets")
	}
	e, err := FromBuckets(0.01, 0, nil, 0, 5, 1, 2)
	if err != nil || e.Count() != 0 || e.Sum() != 0 || e.Max() != 0 {
		t.Fatalf("empty FromBuckets = %v, %v", e, err)
	}
}

func TestFromBucketsRefuses(t *testing.T) {
	ok := []uint64{1, 2, 3}
	tests := []struct {
		name            string
		accuracy        float64
		offset          int32
		counts          []uint64
		zero            uint64
		sum, minV, maxV float64
	}{
		{"zero accuracy", 0, 0, ok, 0, 10, 1, 3},
		{"half accuracy", 0.5, 0, ok, 0, 10, 1, 3},
		{"negative accuracy", -0.01, 0, ok, 0, 10, 1, 3},
		{"NaN accuracy", math.NaN(), 0, ok, 0, 10, 1, 3},
		{"accuracy too fine", 1e-7, 0, ok, 0, 10, 1, 3},
		{"too many buckets", 0.01, 0, make([]uint64, MaxBuckets+1), 0, 0, 0, 0},
		{"NaN sum", 0.01, 0, ok, 0, math.NaN(), 1, 3},
		{"infinite sum", 0.01, 0, ok, 0, math.Inf(1), 1, 3},
		{"negative sum", 0.01, 0, ok, 0, -1, 1, 3},
		{"negative min", 0.01, 0, ok, 0, 10, -1, 3},
		{"infinite max", 0.01, 0, ok, 0, 10, 1, math.Inf(1)},
		{"min above max", 0.01, 0, ok, 0, 10, 3, 1},
		{"counts overflow", 0.01, 0, []uint64{math.MaxUint64, 1}, 0, 10, 1, 3},
		{"zero count overflows", 0.01, 0, ok, math.MaxUint64, 10, 1, 3},
		{"bucket above any float", 0.01, math.MaxInt32 - 2, ok, 0, 10, 1, 3},
		{"bucket below the zero threshold", 0.01, math.MinInt32, ok, 0, 10, 1, 3},
		{"bucket just above any float", 0.01, 35500, ok, 0, 10, 1, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := FromBuckets(tt.accuracy, tt.offset, tt.counts, tt.zero, tt.sum, tt.minV, tt.maxV)
			if !errors.Is(err, ErrInvalidSketch) {
				t.Fatalf("FromBuckets = %v, %v; want ErrInvalidSketch", s, err)
			}
		})
	}
}

func TestSketchCollapse(t *testing.T) {
	// At accuracy 0.001, 4096 buckets span a factor of about 3600; the values span 1e6.
	const a = 0.001
	r := rand.New(rand.NewPCG(3, 4))
	values := make([]float64, 50000)
	for i := range values {
		values[i] = math.Pow(10, 6*r.Float64())
	}
	check := func(name string, s *Sketch) {
		t.Helper()
		_, counts, _ := s.Buckets()
		if len(counts) != MaxBuckets {
			t.Fatalf("%s: %d buckets, want MaxBuckets", name, len(counts))
		}
		if s.Count() != uint64(len(values)) || s.Min() != slices.Min(values) || s.Max() != slices.Max(values) {
			t.Fatalf("%s: Count, Min, Max changed by the collapse", name)
		}
		checkQuantiles(t, s, values, []float64{0.5, 0.9, 0.95, 0.99, 0.999})
		// The low quantiles are what the collapse gave up.
		if low := exactQuantile(slices.Sorted(slices.Values(values)), 0.01); s.Quantile(0.01) < 2*low {
			t.Errorf("%s: Quantile(0.01) = %g is accurate (exact %g): no collapse happened", name, s.Quantile(0.01), low)
		}
	}
	added := sketchOf(a, values)
	check("added", added)

	// Sorted inserts move the window one way only; both orders and a merge collapse alike.
	ascending := slices.Sorted(slices.Values(values))
	descending := slices.Clone(ascending)
	slices.Reverse(descending)
	up, down := sketchOf(a, ascending), sketchOf(a, descending)
	check("ascending", up)
	check("descending", down)
	assertSameSketch(t, added, up)
	assertSameSketch(t, added, down)

	lo, hi := sketchOf(a, values[:25000]), sketchOf(a, values[25000:])
	merged := hi.Clone()
	if err := merged.Merge(lo); err != nil {
		t.Fatal(err)
	}
	check("merged", merged)
	assertSameSketch(t, added, merged)

	// The default accuracy spans 1e35 in 4096 buckets; values over all of float64 stay bounded.
	wide := NewSketch(0.01)
	for range 20000 {
		wide.Add(math.Pow(10, -5+310*r.Float64()))
	}
	wide.Add(math.MaxFloat64)
	if _, counts, _ := wide.Buckets(); len(counts) > MaxBuckets {
		t.Fatalf("%d buckets", len(counts))
	}
	if got := wide.Quantile(1); got != math.MaxFloat64 {
		t.Fatalf("Quantile(1) = %g", got)
	}
}

// TestCountAtMost: CountsAtMost's count at or below each value matches the exact one within the sketch's
// relative accuracy, is monotone, and covers everything at the maximum.
func TestCountAtMost(t *testing.T) {
	s := NewSketch(0.01)
	var vals []float64
	for i := range 1000 {
		v := float64(i) * 1.7
		vals = append(vals, v)
		s.Add(v)
	}
	bounds := []float64{0, 1, 50, 100, 500, 1000, 1698.3, 5000}
	counts := make([]uint64, len(bounds))
	s.CountsAtMost(bounds, counts)
	prev := uint64(0)
	for i, x := range bounds {
		got := counts[i]
		lo, hi := 0, 0
		for _, v := range vals {
			if v <= x*0.98 {
				lo++
			}
			if v <= x*1.02 {
				hi++
			}
		}
		if got < uint64(lo) || got > uint64(hi) || got < prev {
			t.Errorf("CountAtMost(%g) = %d, want %d..%d and at least %d", x, got, lo, hi, prev)
		}
		prev = got
	}
	all := []uint64{0}
	if s.CountsAtMost([]float64{1e9}, all); all[0] != 1000 {
		t.Errorf("CountAtMost(1e9) = %d, want all 1000", all[0])
	}
	if (*Sketch)(nil).CountsAtMost([]float64{5}, all); all[0] != 0 {
		t.Errorf("nil sketch: %d", all[0])
	}
}
