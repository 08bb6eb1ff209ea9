package reqstats

import (
	"math"
	"math/rand/v2"
	"testing"
)

func BenchmarkSketchAdd(b *testing.B) {
	r := rand.New(rand.NewPCG(7, 8))
	values := make([]float64, 4096)
	for i := range values {
		values[i] = math.Exp(math.Log(200) + r.NormFloat64())
	}
	s := NewSketch(DefaultRelativeAccuracy)
	for _, v := range values {
		s.Add(v)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		s.Add(values[i&(len(values)-1)])
		i++
	}
}

// BenchmarkSketchMerge merges two sketches of 1000 buckets each, half of them shared.
func BenchmarkSketchMerge(b *testing.B) {
	x, y := NewSketch(DefaultRelativeAccuracy), NewSketch(DefaultRelativeAccuracy)
	gamma := x.gamma
	for k := range 1000 {
		x.Add(math.Pow(gamma, float64(k)))
		y.Add(math.Pow(gamma, float64(k+500)))
	}
	for _, s := range []*Sketch{x, y} {
		if _, counts, _ := s.Buckets(); len(counts) != 1000 {
			b.Fatalf("%d buckets, want 1000", len(counts))
		}
	}
	x.merge(y) // grow once, outside the loop
	b.ReportAllocs()
	for b.Loop() {
		if err := x.Merge(y); err != nil {
			b.Fatal(err)
		}
	}
}

func newBenchAggregator() (*Aggregator, []Event) {
	agg := NewAggregator(Prices{"model-0": {InputPerMTok: 1, OutputPerMTok: 2}}, DefaultRelativeAccuracy, 10, t0)
	events := knownEvents()
	for _, e := range events {
		agg.Add(e)
	}
	return agg, events
}

func BenchmarkAggregatorAdd(b *testing.B) {
	agg, events := newBenchAggregator()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		agg.Add(events[i&(len(events)-1)])
		i++
	}
}

func BenchmarkAggregatorAddParallel(b *testing.B) {
	agg, events := newBenchAggregator()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			agg.Add(events[i&(len(events)-1)])
			i++
		}
	})
}
