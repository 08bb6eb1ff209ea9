package reqstats

import (
	"math"
	"testing"
	"time"
)

// TestTokenlessHitsSaveTheMissAverage is the accounting of a cache hit that reports no tokens
// (what the contrib callback sends): it costs 0 and saves what its program's average miss to
// the same model cost. 10 misses of 1,000 in and 200 out at 2.5 and 10 a million cost 0.0045
// each; the 10 hits save 0.045 whether they come before or after the misses, and the saving
// shows in the totals and in the model's and the program's breakdowns.
func TestTokenlessHitsSaveTheMissAverage(t *testing.T) {
	prices := Prices{"gpt-4o": {InputPerMTok: 2.5, OutputPerMTok: 10}}
	miss := Event{Model: "gpt-4o", Program: "qa", InputTokens: 1000, OutputTokens: 200, Cache: CacheMiss, Latency: ms(900)}
	hit := Event{Model: "gpt-4o", Program: "qa", Cache: CacheHit, Latency: ms(2)}
	for _, order := range []string{"misses first", "hits first"} {
		t.Run(order, func(t *testing.T) {
			a := NewAggregator(prices, 0.01, 10, t0)
			first, second := miss, hit
			if order == "hits first" {
				first, second = hit, miss
			}
			for range 10 {
				a.Add(first)
			}
			for range 10 {
				a.Add(second)
			}
			w := a.Flush(t0.Add(time.Minute))
			for name, got := range map[string][2]float64{
				"window":  {w.CostUSD, w.SavedUSD},
				"model":   {w.Models[0].CostUSD, w.Models[0].SavedUSD},
				"program": {w.Programs[0].CostUSD, w.Programs[0].SavedUSD},
			} {
				if math.Abs(got[0]-0.045) > 1e-12 || math.Abs(got[1]-0.045) > 1e-12 {
					t.Errorf("%s: cost %.6f saved %.6f, want 0.045000 and 0.045000", name, got[0], got[1])
				}
			}
		})
	}
}

// TestTokenlessHitsLearnAcrossWindows: a hit in a window without misses saves the average of
// the misses of earlier windows; a program with no misses of its own saves its model's
// average; a model nobody has missed on yet saves nothing rather than a guess; a hit that
// reported its tokens saves their list price, as before.
func TestTokenlessHitsLearnAcrossWindows(t *testing.T) {
	prices := Prices{"m": {InputPerMTok: 1, OutputPerMTok: 1}, "n": {InputPerMTok: 1, OutputPerMTok: 1}}
	a := NewAggregator(prices, 0.01, 10, t0)
	a.Add(Event{Model: "m", Program: "p", InputTokens: 1_000_000, Cache: CacheMiss}) // 1.00
	a.Add(Event{Model: "m", Program: "p", InputTokens: 3_000_000, Cache: CacheMiss}) // 3.00
	a.Add(Event{Model: "m", Program: "q", InputTokens: 8_000_000})                   // 8.00, cache state unknown
	a.Flush(t0.Add(time.Minute))

	a.Add(Event{Model: "m", Program: "p", Cache: CacheHit})                       // p's average: 2
	a.Add(Event{Model: "m", Program: "r", Cache: CacheHit})                       // r has none: m's average, 4
	a.Add(Event{Model: "n", Program: "p", Cache: CacheHit})                       // nobody missed on n: 0
	a.Add(Event{Model: "m", Program: "p", InputTokens: 500_000, Cache: CacheHit}) // its own tokens: 0.5
	w := a.Flush(t0.Add(2 * time.Minute))
	if math.Abs(w.SavedUSD-6.5) > 1e-9 || w.CostUSD != 0 {
		t.Fatalf("saved %.4f cost %.4f, want 6.5 saved (2 + 4 + 0 + 0.5) and nothing spent", w.SavedUSD, w.CostUSD)
	}
	byName := map[string]float64{}
	for _, b := range w.Programs {
		byName[b.Name] = b.SavedUSD
	}
	if math.Abs(byName["p"]-2.5) > 1e-9 || math.Abs(byName["r"]-4) > 1e-9 {
		t.Fatalf("program savings %v, want p 2.5 and r 4", byName)
	}
}
