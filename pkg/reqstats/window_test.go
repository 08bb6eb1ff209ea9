package reqstats

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// randomEvents returns n seeded events over many models and programs, some unnamed.
func randomEvents(n int) []Event {
	r := rand.New(rand.NewPCG(5, 6))
	events := make([]Event, n)
	for i := range events {
		events[i] = Event{
			Program: fmt.Sprint("program-", r.IntN(6)), Model: fmt.Sprint("model-", r.IntN(9)),
			Latency:     time.Duration(r.ExpFloat64() * float64(300*time.Millisecond)),
			TTFT:        time.Duration(r.IntN(2)) * time.Duration(r.ExpFloat64()*float64(50*time.Millisecond)),
			InputTokens: r.Int64N(4000), OutputTokens: r.Int64N(800),
			Cache: CacheState(r.IntN(3)), Error: r.IntN(20) == 0,
		}
		if r.IntN(50) == 0 {
			events[i].Model = ""
		}
	}
	return events
}

var testPrices = Prices{
	"model-0": {InputPerMTok: 0.15, OutputPerMTok: 0.6},
	"model-1": {InputPerMTok: 2.5, OutputPerMTok: 10},
	"model-2": {InputPerMTok: 3, OutputPerMTok: 15},
}

func TestMergeWindowsEqualsUnion(t *testing.T) {
	events := randomEvents(6000)
	for _, topN := range []int{20, 3} {
		t.Run(fmt.Sprint("top", topN), func(t *testing.T) {
			// Three nodes over overlapping windows, their breakdowns uncut.
			var nodes []Window
			for n := range 3 {
				agg := NewAggregator(testPrices, 0.01, 20, t0.Add(time.Duration(n)*time.Second))
				for i := n; i < len(events); i += 3 {
					agg.Add(events[i])
				}
				nodes = append(nodes, agg.Flush(t0.Add(time.Duration(60+n)*time.Second)))
			}
			before := nodes[0].Latency.Count()
			got, err := MergeWindows(topN, nodes...)
			if err != nil {
				t.Fatal(err)
			}
			if nodes[0].Latency.Count() != before || nodes[0].Models[0].Latency == got.Models[0].Latency {
				t.Fatal("MergeWindows changed or shared its inputs' sketches")
			}

			union := NewAggregator(testPrices, 0.01, topN, t0)
			for _, e := range events {
				union.Add(e)
			}
			want := union.Flush(t0.Add(62 * time.Second))
			assertSameCounts(t, got, want)
			assertSameSketch(t, got.Latency, want.Latency)
			assertSameSketch(t, got.TTFT, want.TTFT)
			for i := range want.Models {
				assertSameSketch(t, got.Models[i].Latency, want.Models[i].Latency)
			}
			for i := range want.Programs {
				assertSameSketch(t, got.Programs[i].Latency, want.Programs[i].Latency)
			}
		})
	}
}

func TestMergeWindows(t *testing.T) {
	if w, err := MergeWindows(5); err != nil || w.Requests != 0 || w.Latency != nil {
		t.Fatalf("no windows: %+v, %v", w, err)
	}

	// Zero times are ignored; unnamed breakdowns are unknown; Other stays last.
	a := Window{Start: t0, End: t0.Add(time.Minute), Requests: 3,
		Models: []Breakdown{{Name: "", Requests: 2}, {Name: Other, Requests: 1}}}
	b := Window{Start: t0.Add(-time.Minute), End: t0.Add(30 * time.Second), Requests: 5,
		Models: []Breakdown{{Name: "x", Requests: 5}}}
	w, err := MergeWindows(5, a, Window{}, b)
	if err != nil {
		t.Fatal(err)
	}
	assertSameCounts(t, w, Window{Start: t0.Add(-time.Minute), End: t0.Add(time.Minute), Requests: 8,
		Models: []Breakdown{{Name: "x", Requests: 5}, {Name: Unknown, Requests: 2}, {Name: Other, Requests: 1}}})
	if w.Latency != nil {
		t.Fatal("no input had a latency sketch")
	}

	// A topN below 1 means DefaultTopN.
	var many []Breakdown
	for i := range DefaultTopN + 4 {
		many = append(many, Breakdown{Name: fmt.Sprint(i), Requests: 1})
	}
	if w, _ := MergeWindows(0, Window{Programs: many}); len(w.Programs) != DefaultTopN+1 || w.Programs[DefaultTopN].Requests != 4 {
		t.Fatalf("programs %s", nameList(w.Programs))
	}

	fine := Window{Latency: NewSketch(0.01)}
	coarse := Window{Latency: NewSketch(0.02)}
	if _, err := MergeWindows(5, fine, coarse); !errors.Is(err, ErrAccuracyMismatch) {
		t.Fatalf("mixed accuracy: %v", err)
	}
	coarse = Window{Models: []Breakdown{{Name: "m", Latency: NewSketch(0.02)}}}
	if _, err := MergeWindows(5, fine, coarse); !errors.Is(err, ErrAccuracyMismatch) {
		t.Fatalf("mixed accuracy in a breakdown: %v", err)
	}
}

func TestWindowRatesOfNothing(t *testing.T) {
	var w Window
	if w.ErrorRate() != 0 || w.CacheHitRatio() != 0 || w.RequestsPerSecond() != 0 {
		t.Fatal("an empty window must answer 0")
	}
	w = Window{Start: t0, End: t0.Add(-time.Second), Requests: 3}
	if w.RequestsPerSecond() != 0 {
		t.Fatal("an inverted window must answer 0")
	}
}

// TestMergeLatencyMatchesMergeWindows: MergeLatency's counts and sketch equal MergeWindows'
// totals, with one accumulator reused across merges of another accuracy, and a mix of
// accuracies is refused.
func TestMergeLatencyMatchesMergeWindows(t *testing.T) {
	events := randomEvents(3000)
	acc := NewSketch(0.05)
	for _, accuracy := range []float64{0.01, 0.02} {
		var nodes []Window
		for n := range 3 {
			agg := NewAggregator(testPrices, accuracy, 20, t0)
			for i := n; i < len(events); i += 3 {
				agg.Add(events[i])
			}
			nodes = append(nodes, agg.Flush(t0.Add(time.Minute)))
		}
		nodes = append(nodes, Window{Requests: 2}) // no sketch
		want, err := MergeWindows(1, nodes...)
		if err != nil {
			t.Fatal(err)
		}
		requests, errs, err := MergeLatency(acc, nodes...)
		if err != nil {
			t.Fatal(err)
		}
		if requests != want.Requests || errs != want.Errors {
			t.Fatalf("accuracy %g: requests %d errors %d, want %d and %d", accuracy, requests, errs, want.Requests, want.Errors)
		}
		assertSameSketch(t, acc, want.Latency)
		if c := nodes[0].Latency.Count(); c != 1000 {
			t.Fatalf("the first input's sketch counts %d after the merge, want its own 1000", c)
		}
	}
	if _, _, err := MergeLatency(acc, Window{Latency: NewSketch(0.01)}, Window{Latency: NewSketch(0.02)}); !errors.Is(err, ErrAccuracyMismatch) {
		t.Fatalf("mixed accuracy: %v", err)
	}
	if requests, _, err := MergeLatency(acc); err != nil || requests != 0 || acc.Count() != 0 {
		t.Fatalf("no windows: %d requests, %d in the sketch, %v", requests, acc.Count(), err)
	}
}

// TestMergeTotalsIsMergeWindowsWithoutBreakdowns: MergeTotals gives MergeWindows' window with
// no breakdowns, and ignores a breakdown sketch of another accuracy it never merges.
func TestMergeTotalsIsMergeWindowsWithoutBreakdowns(t *testing.T) {
	events := randomEvents(3000)
	var nodes []Window
	for n := range 3 {
		agg := NewAggregator(testPrices, 0.01, 20, t0.Add(time.Duration(n)*time.Second))
		for i := n; i < len(events); i += 3 {
			agg.Add(events[i])
		}
		nodes = append(nodes, agg.Flush(t0.Add(time.Duration(60+n)*time.Second)))
	}
	want, err := MergeWindows(5, nodes...)
	if err != nil {
		t.Fatal(err)
	}
	got, err := MergeTotals(append(nodes, Window{Models: []Breakdown{{Name: "m", Latency: NewSketch(0.02)}}})...)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Models) != 0 || len(got.Programs) != 0 {
		t.Fatalf("MergeTotals kept %d models and %d programs", len(got.Models), len(got.Programs))
	}
	want.Models, want.Programs = nil, nil
	assertSameCounts(t, got, want)
	assertSameSketch(t, got.Latency, want.Latency)
	assertSameSketch(t, got.TTFT, want.TTFT)
	if _, err := MergeTotals(Window{Latency: NewSketch(0.01)}, Window{TTFT: NewSketch(0.02)}); !errors.Is(err, ErrAccuracyMismatch) {
		t.Fatalf("mixed accuracy: %v", err)
	}
}
