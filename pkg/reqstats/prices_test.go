package reqstats

import (
	"math"
	"testing"
)

func TestPrices(t *testing.T) {
	prices := Prices{
		"openai/gpt-4o-mini": {InputPerMTok: 0.15, OutputPerMTok: 0.60, CachedInputPerMTok: 0.075},
		"free":               {},
	}
	tests := []struct {
		name        string
		e           Event
		cost, saved float64
	}{
		{"miss", Event{Model: "openai/gpt-4o-mini", InputTokens: 1_000_000, OutputTokens: 500_000, Cache: CacheMiss}, 0.45, 0},
		{"unknown cache state", Event{Model: "openai/gpt-4o-mini", InputTokens: 2000, OutputTokens: 1000}, 0.0009, 0},
		{"hit costs nothing", Event{Model: "openai/gpt-4o-mini", InputTokens: 2000, OutputTokens: 1000, Cache: CacheHit}, 0, 0.0009},
		{"error still bought tokens", Event{Model: "openai/gpt-4o-mini", InputTokens: 1_000_000, Error: true}, 0.15, 0},
		{"unknown model", Event{Model: "gpt-4o-mini", InputTokens: 1_000_000, Cache: CacheMiss}, 0, 0},
		{"unknown model hit", Event{Model: "nope", InputTokens: 1_000_000, Cache: CacheHit}, 0, 0},
		{"free model", Event{Model: "free", InputTokens: 1_000_000}, 0, 0},
		{"no tokens", Event{Model: "openai/gpt-4o-mini"}, 0, 0},
		{"negative tokens count as 0", Event{Model: "openai/gpt-4o-mini", InputTokens: -1_000_000, OutputTokens: 1_000_000}, 0.60, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := prices.Cost(tt.e); math.Abs(got-tt.cost) > 1e-12 {
				t.Errorf("Cost = %g, want %g", got, tt.cost)
			}
			if got := prices.Saved(tt.e); math.Abs(got-tt.saved) > 1e-12 {
				t.Errorf("Saved = %g, want %g", got, tt.saved)
			}
		})
	}
	var none Prices
	if none.Cost(Event{Model: "x", InputTokens: 5}) != 0 {
		t.Fatal("nil Prices must cost 0")
	}
}
