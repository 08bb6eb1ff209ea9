package cost

import (
	"math"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

func TestAccrueHost(t *testing.T) {
	tests := []struct {
		name     string
		hourly   float64
		known    bool
		from, to time.Time
		want     []HourAmount
	}{
		{"within an hour", 3.6, true, t0.Add(10 * time.Minute), t0.Add(20 * time.Minute),
			[]HourAmount{{t0, Amount{USD: 0.6, UpSeconds: 600}}}},
		{"across two hours", 1, true, t0.Add(30 * time.Minute), t0.Add(90 * time.Minute),
			[]HourAmount{{t0, Amount{USD: 0.5, UpSeconds: 1800}}, {t0.Add(time.Hour), Amount{USD: 0.5, UpSeconds: 1800}}}},
		{"unknown price", 0, false, t0, t0.Add(time.Minute),
			[]HourAmount{{t0, Amount{UnpricedSeconds: 60}}}},
		{"empty span", 1, true, t0, t0, nil},
		{"zoned times", 1, true, t0.In(time.FixedZone("x", 5*3600+1800)), t0.Add(time.Hour),
			[]HourAmount{{t0, Amount{USD: 1, UpSeconds: 3600}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := AccrueHost(tt.hourly, tt.known, tt.from, tt.to)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d hours %+v, want %+v", len(got), got, tt.want)
			}
			for i := range got {
				g, w := got[i], tt.want[i]
				if !g.Hour.Equal(w.Hour) || math.Abs(g.USD-w.USD) > 1e-12 || g.UpSeconds != w.UpSeconds || g.UnpricedSeconds != w.UnpricedSeconds {
					t.Errorf("hour %d = %+v, want %+v", i, g, w)
				}
			}
		})
	}
}

func TestAccrualStart(t *testing.T) {
	now := t0.Add(time.Hour)
	gap := 15 * time.Minute
	tests := []struct {
		name             string
		watermark, since time.Time
		wantFrom         time.Time
		wantGap          time.Duration
	}{
		{"continues from the watermark", now.Add(-5 * time.Second), time.Time{}, now.Add(-5 * time.Second), 0},
		{"first sight starts at connection", time.Time{}, now.Add(-time.Minute), now.Add(-time.Minute), 0},
		{"never seen connected", time.Time{}, time.Time{}, now, 0},
		{"long outage capped", now.Add(-time.Hour), time.Time{}, now.Add(-gap), 45 * time.Minute},
		{"watermark in the future", now.Add(time.Minute), time.Time{}, now, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			from, g := AccrualStart(tt.watermark, tt.since, now, gap)
			if !from.Equal(tt.wantFrom) || g != tt.wantGap {
				t.Fatalf("AccrualStart = %v, %v; want %v, %v", from, g, tt.wantFrom, tt.wantGap)
			}
		})
	}
}

func TestHostStateBilled(t *testing.T) {
	if !Connected.Billed() || !Disconnected.Billed() || Down.Billed() {
		t.Fatal("connected and disconnected hosts are billed, down ones are not")
	}
}

func TestTokenAmount(t *testing.T) {
	price := ModelPrice{InputPerMTok: 10, OutputPerMTok: 30}
	tests := []struct {
		name      string
		u         Usage
		havePrice bool
		want      Amount
	}{
		{"agent priced", Usage{Requests: 2, InputTokens: 1000, OutputTokens: 100, CacheMisses: 2, CostUSD: 0.013}, true,
			Amount{USD: 0.013, Requests: 2, InputTokens: 1000, OutputTokens: 100, CacheMisses: 2}},
		{"agent priced all hits", Usage{Requests: 1, InputTokens: 1000, CacheHits: 1, SavedUSD: 0.01}, false,
			Amount{SavedUSD: 0.01, Requests: 1, InputTokens: 1000, CacheHits: 1}},
		{"table priced", Usage{Requests: 4, InputTokens: 1_000_000, OutputTokens: 100_000, CacheHits: 1, CacheMisses: 3}, true,
			// The hit reported no tokens: the 3 misses paid the list 10 + 3 = 13, and the hit
			// saved their average, 13/3.
			Amount{USD: 13, SavedUSD: 13.0 / 3, Requests: 4, InputTokens: 1_000_000, OutputTokens: 100_000, CacheHits: 1, CacheMisses: 3}},
		{"table priced, the issue's case", Usage{Requests: 20, InputTokens: 10_000, OutputTokens: 2_000, CacheHits: 10, CacheMisses: 10}, true,
			// 10 misses of 1,000 in and 200 out at 10 and 30 a million: 0.1 + 0.06 = 0.16 paid,
			// and each of the 10 hits saved a miss's 0.016.
			Amount{USD: 0.16, SavedUSD: 0.16, Requests: 20, InputTokens: 10_000, OutputTokens: 2_000, CacheHits: 10, CacheMisses: 10}},
		{"table priced hits only", Usage{Requests: 2, InputTokens: 1_000_000, CacheHits: 2}, true,
			Amount{SavedUSD: 10, Requests: 2, InputTokens: 1_000_000, CacheHits: 2}},
		{"unpriced", Usage{Requests: 1, InputTokens: 10, OutputTokens: 5}, false,
			Amount{Requests: 1, InputTokens: 10, OutputTokens: 5, UnpricedTokens: 15}},
		{"no tokens", Usage{Requests: 3}, false, Amount{Requests: 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := TokenAmount(tt.u, price, tt.havePrice)
			if math.Abs(got.USD-tt.want.USD) > 1e-12 || math.Abs(got.SavedUSD-tt.want.SavedUSD) > 1e-12 {
				t.Fatalf("USD, saved = %v, %v; want %v, %v", got.USD, got.SavedUSD, tt.want.USD, tt.want.SavedUSD)
			}
			got.USD, got.SavedUSD, tt.want.USD, tt.want.SavedUSD = 0, 0, 0, 0
			if got != tt.want {
				t.Fatalf("TokenAmount = %+v, want %+v", got, tt.want)
			}
			if got.Unknown() != (tt.want.UnpricedTokens > 0) {
				t.Fatalf("Unknown() = %v", got.Unknown())
			}
		})
	}
}

func TestAmountAddAndPerRequest(t *testing.T) {
	a := Amount{USD: 1, Requests: 4, UpSeconds: 10}
	a.Add(Amount{USD: 2, Requests: 2, UnpricedSeconds: 5, SavedUSD: 0.5})
	if a.USD != 3 || a.Requests != 6 || a.UpSeconds != 10 || a.UnpricedSeconds != 5 || a.SavedUSD != 0.5 || !a.Unknown() {
		t.Fatalf("Add gave %+v", a)
	}
	if a.PerRequest() != 0.5 || (Amount{USD: 1}).PerRequest() != 0 {
		t.Fatalf("PerRequest = %v", a.PerRequest())
	}
}
