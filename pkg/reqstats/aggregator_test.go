package reqstats

import (
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func ms(n float64) time.Duration { return time.Duration(n * float64(time.Millisecond)) }

func TestAggregatorCounts(t *testing.T) {
	prices := Prices{
		"a": {InputPerMTok: 1, OutputPerMTok: 2},
		"b": {InputPerMTok: 10, OutputPerMTok: 20},
	}
	events := []Event{
		{Model: "a", Program: "p1", Latency: ms(100), TTFT: ms(20), InputTokens: 1000, OutputTokens: 100, Cache: CacheMiss, Status: 200},
		{Model: "a", Program: "p1", Latency: ms(200), InputTokens: 1000, OutputTokens: 100, Cache: CacheHit},
		{Model: "a", Program: "p2", Latency: ms(300), InputTokens: 500, OutputTokens: 50, Cache: CacheMiss, Error: true, Status: 500},
		{Model: "b", Program: "p1", Latency: ms(50)},
		{Model: "b", Program: "p2", Latency: ms(150), TTFT: ms(30), InputTokens: 2000, OutputTokens: 200, Cache: CacheMiss},
		{Model: "c", Program: "p1", Latency: ms(1000), InputTokens: 10, OutputTokens: 10, Cache: CacheHit, Error: true},
		{Model: "", Program: "p2", Latency: ms(10), InputTokens: 100, OutputTokens: 100},
	}
	agg := NewAggregator(prices, 0.01, 2, t0)
	for _, e := range events {
		agg.Add(e)
	}
	prices["a"] = ModelPrice{InputPerMTok: 1000} // the aggregator keeps its own copy
	w := agg.Flush(t0.Add(10 * time.Second))

	want := Window{
		Start: t0, End: t0.Add(10 * time.Second),
		Requests: 7, Errors: 2, InputTokens: 4610, OutputTokens: 560, CacheHits: 2, CacheMisses: 3,
		CostUSD: 0.0258, SavedUSD: 0.0012,
		Models: []Breakdown{
			{Name: "a", Requests: 3, Errors: 1, InputTokens: 2500, OutputTokens: 250, CacheHits: 1, CacheMisses: 2, CostUSD: 0.0018, SavedUSD: 0.0012},
			{Name: "b", Requests: 2, InputTokens: 2000, OutputTokens: 200, CacheMisses: 1, CostUSD: 0.024},
			{Name: Other, Requests: 2, Errors: 1, InputTokens: 110, OutputTokens: 110, CacheHits: 1},
		},
		Programs: []Breakdown{
			{Name: "p1", Requests: 4, Errors: 1, InputTokens: 2010, OutputTokens: 210, CacheHits: 2, CacheMisses: 1, CostUSD: 0.0012, SavedUSD: 0.0012},
			{Name: "p2", Requests: 3, Errors: 1, InputTokens: 2600, OutputTokens: 350, CacheMisses: 2, CostUSD: 0.0246},
		},
	}
	assertSameCounts(t, w, want)
	if w.Latency.Count() != 7 || w.TTFT.Count() != 2 || w.Latency.Max() != 1000 || w.TTFT.Min() != 20 {
		t.Fatalf("sketches: latency %d values up to %g, TTFT %d values from %g",
			w.Latency.Count(), w.Latency.Max(), w.TTFT.Count(), w.TTFT.Min())
	}
	for _, b := range append(w.Models, w.Programs...) {
		if b.Latency.Count() != b.Requests {
			t.Errorf("%s: %d latencies for %d requests", b.Name, b.Latency.Count(), b.Requests)
		}
	}
	if w.Models[2].Latency.Max() != 1000 || w.Models[2].Latency.Min() != 10 {
		t.Errorf("other's latency spans %g..%g, want c's and unknown's 10..1000", w.Models[2].Latency.Min(), w.Models[2].Latency.Max())
	}
	if got := w.ErrorRate(); got != 2.0/7 {
		t.Errorf("ErrorRate = %g", got)
	}
	if got := w.CacheHitRatio(); got != 2.0/5 {
		t.Errorf("CacheHitRatio = %g", got)
	}
	if got := w.RequestsPerSecond(); got != 0.7 {
		t.Errorf("RequestsPerSecond = %g", got)
	}

	// The next window starts where this one ended, empty.
	next := agg.Flush(t0.Add(time.Minute))
	assertSameCounts(t, next, Window{Start: t0.Add(10 * time.Second), End: t0.Add(time.Minute)})
	if next.Latency.Count() != 0 || w.Latency.Count() != 7 {
		t.Fatal("Flush must hand over the window and start an empty one")
	}

	// Unknown names and negative values.
	agg.Add(Event{Latency: -1, TTFT: -1, InputTokens: -5})
	w = agg.Flush(t0.Add(2 * time.Minute))
	if w.Requests != 1 || w.InputTokens != 0 || w.Latency.Count() != 0 || w.TTFT.Count() != 0 ||
		w.Models[0].Name != Unknown || w.Programs[0].Name != Unknown {
		t.Fatalf("bad event counted as %+v", w)
	}
}

// assertSameCounts compares everything but the sketches, costs within rounding.
func assertSameCounts(t *testing.T, got, want Window) {
	t.Helper()
	if !got.Start.Equal(want.Start) || !got.End.Equal(want.End) {
		t.Errorf("window [%s, %s), want [%s, %s)", got.Start, got.End, want.Start, want.End)
	}
	g, w := got.totals(), want.totals()
	g.Latency, w.Latency = nil, nil
	assertSameBreakdown(t, "totals", g, w)
	for _, dim := range []struct {
		name      string
		got, want []Breakdown
	}{{"models", got.Models, want.Models}, {"programs", got.Programs, want.Programs}} {
		if len(dim.got) != len(dim.want) {
			t.Errorf("%s: %s, want %s", dim.name, nameList(dim.got), nameList(dim.want))
			continue
		}
		for i := range dim.got {
			assertSameBreakdown(t, dim.name, dim.got[i], dim.want[i])
		}
	}
}

func assertSameBreakdown(t *testing.T, dim string, got, want Breakdown) {
	t.Helper()
	close := func(x, y float64) bool { return math.Abs(x-y) <= 1e-9*max(1, math.Abs(y)) }
	if got.Name != want.Name || got.Requests != want.Requests || got.Errors != want.Errors ||
		got.InputTokens != want.InputTokens || got.OutputTokens != want.OutputTokens ||
		got.CacheHits != want.CacheHits || got.CacheMisses != want.CacheMisses ||
		!close(got.CostUSD, want.CostUSD) || !close(got.SavedUSD, want.SavedUSD) {
		g, w := got, want
		g.Latency, w.Latency = nil, nil
		t.Errorf("%s:\n got %+v\nwant %+v", dim, g, w)
	}
}

func nameList(bs []Breakdown) string {
	var s []string
	for _, b := range bs {
		s = append(s, fmt.Sprintf("%s:%d", b.Name, b.Requests))
	}
	return "[" + strings.Join(s, " ") + "]"
}

func TestAggregatorBoundsNames(t *testing.T) {
	agg := NewAggregator(nil, 0.01, 5, t0)
	const distinct = MaxNames + 500
	for i := range distinct {
		agg.Add(Event{Model: fmt.Sprintf("model-%04d", i), Program: fmt.Sprintf("program-%04d", i%7), Latency: ms(5)})
	}
	long := strings.Repeat("x", MaxNameLen+1)
	agg.Add(Event{Model: "model-0000", Program: long, Latency: ms(5)})
	if len(agg.models) > MaxNames+1 || len(agg.programs) != 8 {
		t.Fatalf("tracking %d models and %d programs", len(agg.models), len(agg.programs))
	}
	w := agg.Flush(t0.Add(time.Minute))
	if len(w.Models) != 6 || w.Models[5].Name != Other || len(w.Programs) != 6 || w.Programs[5].Name != Other {
		t.Fatalf("models %s, programs %s; want top 5 and other", nameList(w.Models), nameList(w.Programs))
	}
	// model-0000 has 2 requests and leads; the next 4 by name; the rest is other.
	if w.Models[0].Name != "model-0000" || w.Models[0].Requests != 2 || w.Models[4].Name != "model-0004" {
		t.Fatalf("models %s", nameList(w.Models))
	}
	var sum uint64
	for _, b := range w.Models {
		sum += b.Requests
	}
	if sum != distinct+1 || w.Models[5].Requests != distinct+1-6 {
		t.Fatalf("model requests add to %d, other has %d", sum, w.Models[5].Requests)
	}
	// The long program name went to other with the two programs past the top 5.
	if other := w.Programs[5]; other.Requests != 1+2*(distinct/7) {
		t.Fatalf("programs %s", nameList(w.Programs))
	}
	if len(agg.models) != 0 {
		t.Fatal("Flush must forget the window's names")
	}
}

func TestAggregatorConcurrent(t *testing.T) {
	agg := NewAggregator(Prices{"m": {InputPerMTok: 1}}, 0.01, 3, t0)
	const workers, each = 8, 2000
	var wg sync.WaitGroup
	var mu sync.Mutex
	var windows []Window
	for g := range workers {
		wg.Go(func() {
			for i := range each {
				agg.Add(Event{Model: "m", Program: fmt.Sprint(g), Latency: ms(float64(i)), InputTokens: 1})
				if i%500 == 0 {
					w := agg.Flush(t0.Add(time.Duration(g*each+i) * time.Millisecond))
					mu.Lock()
					windows = append(windows, w)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	windows = append(windows, agg.Flush(t0.Add(time.Hour)))
	total, err := MergeWindows(3, windows...)
	if err != nil {
		t.Fatal(err)
	}
	if total.Requests != workers*each || total.Latency.Count() != workers*each || total.InputTokens != workers*each ||
		math.Abs(total.CostUSD-workers*each/1e6) > 1e-12 {
		t.Fatalf("merged %d requests, %d latencies, %d tokens, $%g", total.Requests, total.Latency.Count(), total.InputTokens, total.CostUSD)
	}
}

// knownEvents cycles through a few models, programs and latencies.
func knownEvents() []Event {
	events := make([]Event, 64)
	for i := range events {
		events[i] = Event{
			Time: t0, Program: fmt.Sprint("program-", i%4), Module: "Predict", Model: fmt.Sprint("model-", i%3),
			Latency: ms(float64(20 + 37*i)), TTFT: ms(float64(5 + i)),
			InputTokens: 800, OutputTokens: 200, Cache: CacheState(i % 3), Error: i%17 == 0, Status: 200,
		}
	}
	return events
}

func TestAggregatorAddDoesNotAllocate(t *testing.T) {
	agg := NewAggregator(Prices{"model-0": {InputPerMTok: 1, OutputPerMTok: 2}}, 0.01, 10, t0)
	events := knownEvents()
	for _, e := range events {
		agg.Add(e)
	}
	i := 0
	if n := testing.AllocsPerRun(1000, func() {
		agg.Add(events[i%len(events)])
		i++
	}); n != 0 {
		t.Fatalf("Add allocates %g times per event for known names", n)
	}
}
