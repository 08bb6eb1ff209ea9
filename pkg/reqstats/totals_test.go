package reqstats

import (
	"errors"
	"testing"
	"time"
)

// TestTotalsIsMergeTotals: a Totals gives MergeTotals' window, whether the windows are added
// one by one or folded in from other Totals, and again after a Reset, with the inputs left as
// they were.
func TestTotalsIsMergeTotals(t *testing.T) {
	events := randomEvents(3000)
	var nodes []Window
	for n := range 3 {
		agg := NewAggregator(testPrices, 0.01, 20, t0.Add(time.Duration(n)*time.Second))
		for i := n; i < len(events); i += 3 {
			agg.Add(events[i])
		}
		nodes = append(nodes, agg.Flush(t0.Add(time.Duration(60+n)*time.Second)))
	}
	nodes = append(nodes, Window{Requests: 2, Errors: 1}) // no sketch
	want, err := MergeTotals(nodes...)
	if err != nil {
		t.Fatal(err)
	}
	var whole, part, folded Totals
	for round := range 2 {
		whole.Reset()
		folded.Reset()
		if err := whole.Add(nodes...); err != nil {
			t.Fatal(err)
		}
		for _, w := range nodes {
			part.Reset()
			if err := part.Add(w); err != nil {
				t.Fatal(err)
			}
			if err := folded.AddTotals(&part); err != nil {
				t.Fatal(err)
			}
		}
		for name, got := range map[string]Window{"added": whole.Window(), "folded": folded.Window()} {
			if !got.Start.Equal(want.Start) || !got.End.Equal(want.End) {
				t.Fatalf("round %d, %s: window %v–%v, want %v–%v", round, name, got.Start, got.End, want.Start, want.End)
			}
			assertSameCounts(t, got, want)
			assertSameSketch(t, got.Latency, want.Latency)
			assertSameSketch(t, got.TTFT, want.TTFT)
		}
	}
	if c := nodes[0].Latency.Count(); c != 1000 {
		t.Fatalf("the first input's sketch counts %d after the merges, want its own 1000", c)
	}
	whole.Reset()
	if w := whole.Window(); w.Requests != 0 || w.Latency != nil || w.TTFT != nil || !w.Start.IsZero() {
		t.Fatalf("after Reset: %+v", w)
	}
}

// TestTotalsRefusesMixedAccuracy: a window whose sketch has another accuracy is refused and
// adds nothing; an empty Totals takes the accuracy of what it is given first.
func TestTotalsRefusesMixedAccuracy(t *testing.T) {
	fine, coarse := NewSketch(0.01), NewSketch(0.02)
	fine.Add(10)
	coarse.Add(20)
	var tot Totals
	if err := tot.Add(Window{Requests: 1, Latency: fine}); err != nil {
		t.Fatal(err)
	}
	if err := tot.Add(Window{Requests: 5, Latency: coarse}); !errors.Is(err, ErrAccuracyMismatch) {
		t.Fatalf("mixed accuracy: %v", err)
	}
	if err := tot.Add(Window{Requests: 5, TTFT: fine}, Window{Requests: 7, TTFT: coarse}); !errors.Is(err, ErrAccuracyMismatch) {
		t.Fatalf("mixed TTFT accuracy: %v", err)
	}
	if w := tot.Window(); w.Requests != 6 || w.Latency.Count() != 1 || w.TTFT.Count() != 1 {
		t.Fatalf("after the refusals: %d requests, latency %d, ttft %d; want 6, 1, 1", w.Requests, w.Latency.Count(), w.TTFT.Count())
	}
	tot.Reset()
	if err := tot.Add(Window{Latency: coarse}); err != nil {
		t.Fatalf("an emptied Totals refuses a new accuracy: %v", err)
	}
	if got := tot.Window().Latency.Quantile(0.5); got < 19 || got > 21 {
		t.Fatalf("median %g after taking the coarse sketch, want about 20", got)
	}
}

// TestTotalsReuseAllocatesNothing: once grown, a reused Totals allocates nothing.
func TestTotalsReuseAllocatesNothing(t *testing.T) {
	events := randomEvents(500)
	agg := NewAggregator(testPrices, 0.01, 20, t0)
	for _, e := range events {
		agg.Add(e)
	}
	w := agg.Flush(t0.Add(time.Minute))
	var node, pool Totals
	allocs := testing.AllocsPerRun(100, func() {
		node.Reset()
		pool.Reset()
		_ = node.Add(w, w)
		_ = pool.AddTotals(&node)
		_ = pool.Window().Latency.Quantile(0.95)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations a run, want 0", allocs)
	}
}
