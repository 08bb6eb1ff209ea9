package cost

import (
	"errors"
	"math"
	"testing"
	"time"
)

func TestReserveSettleExpire(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	r := NewReservations(30 * time.Second)
	r.Sync(Budget{Name: "pool-a", Period: Daily, LimitUSD: 1, Pool: "a", Hard: true, FallbackPool: "cheap"}, nil, 0.5, now)
	r.Sync(Budget{Name: "soft", Period: Daily, LimitUSD: 0.01}, nil, 5, now) // soft: never checked at the door

	h1, fb, err := r.Reserve("a", "qa", 0.3, now, time.Minute)
	if err != nil || fb != "" || len(h1.Budgets) != 1 {
		t.Fatalf("first reserve = %+v, %q, %v", h1, fb, err)
	}
	// 0.5 spent + 0.3 held + 0.3 > 1: the pool budget is full, its fallback has none.
	h2, fb, err := r.Reserve("a", "qa", 0.3, now, time.Minute)
	if err != nil || fb != "cheap" || h2.ID != 0 {
		t.Fatalf("second reserve = %+v, %q, %v; want the fallback pool", h2, fb, err)
	}
	if err := r.Settle(h1.ID, 0.1, now); err != nil {
		t.Fatal(err)
	}
	if c, _ := r.Committed("pool-a"); math.Abs(c-0.6) > 1e-12 {
		t.Fatalf("committed after settling = %v, want 0.6 (ledger 0.5 + settled 0.1)", c)
	}
	if err := r.Settle(h1.ID, 0.1, now); !errors.Is(err, ErrNoHold) {
		t.Fatalf("second settle = %v, want ErrNoHold", err)
	}
	// Expired holds stop counting.
	h3, _, err := r.Reserve("a", "", 0.4, now, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if n := r.Expire(now.Add(time.Minute)); n != 1 {
		t.Fatalf("Expire released %d, want 1", n)
	}
	if c, _ := r.Committed("pool-a"); math.Abs(c-0.6) > 1e-12 {
		t.Fatalf("committed after expiry = %v, want 0.6", c)
	}
	// Once the ledger has had time to catch up, a sync replaces the settled figure.
	r.Sync(Budget{Name: "pool-a", Period: Daily, LimitUSD: 1, Pool: "a", Hard: true, FallbackPool: "cheap"}, nil, 0.6, now.Add(31*time.Second))
	if c, _ := r.Committed("pool-a"); math.Abs(c-0.6) > 1e-12 {
		t.Fatalf("committed after the ledger caught up = %v, want 0.6", c)
	}
	if err := r.Release(h3.ID); !errors.Is(err, ErrNoHold) {
		t.Fatalf("release of an expired hold = %v", err)
	}
	if _, _, err := r.Reserve("a", "", math.NaN(), now, time.Minute); !errors.Is(err, ErrInvalid) {
		t.Fatalf("NaN estimate = %v", err)
	}
}

func TestReserveRefusesWithReset(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	r := NewReservations(30 * time.Second)
	r.Sync(Budget{Name: "prog", Period: Monthly, LimitUSD: 10, Program: "qa", Hard: true}, nil, 9.5, now)
	r.Sync(Budget{Name: "fleet", Period: Daily, LimitUSD: 100, Hard: true}, nil, 0, now)
	if _, _, err := r.Reserve("any", "other", 1, now, time.Minute); err != nil {
		t.Fatalf("another program is not covered by the program budget: %v", err)
	}
	_, _, err := r.Reserve("any", "qa", 1, now, time.Minute)
	var ex *ExhaustedError
	if !errors.As(err, &ex) || !errors.Is(err, ErrExhausted) || ex.Budget != "prog" ||
		!ex.ResetAt.Equal(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("Reserve = %v, want prog exhausted until 1 December", err)
	}
	if c, _ := r.Committed("fleet"); c != 1 {
		t.Fatalf("a refused reservation held %v on another budget, want only the first request's 1", c)
	}
	// A new month starts empty, even before the next Sync.
	if _, _, err := r.Reserve("any", "qa", 1, time.Date(2026, 12, 1, 0, 0, 1, 0, time.UTC), time.Minute); err != nil {
		t.Fatalf("after the reset: %v", err)
	}
}

// TestReserveNeverOvershoots reserves in an interleaving of many requests with settles at or
// below their estimates; committed spend never exceeds the limit.
func TestReserveNeverOvershoots(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	r := NewReservations(30 * time.Second)
	b := Budget{Name: "b", Period: Daily, LimitUSD: 5, Hard: true}
	r.Sync(b, nil, 0, now)
	var open []Hold
	accepted := 0
	for i := range 1000 {
		h, _, err := r.Reserve("p", "", 0.01*float64(1+i%7), now, time.Hour)
		if err == nil {
			accepted++
			open = append(open, h)
		}
		if i%3 == 0 && len(open) > 0 {
			h := open[0]
			open = open[1:]
			if err := r.Settle(h.ID, h.USD*0.9, now); err != nil {
				t.Fatal(err)
			}
		}
		if c, _ := r.Committed("b"); c > b.LimitUSD+1e-9 {
			t.Fatalf("after %d requests committed %v > limit %v", i+1, c, b.LimitUSD)
		}
	}
	if accepted == 0 || accepted == 1000 {
		t.Fatalf("accepted %d of 1000: the test should reach the limit", accepted)
	}
}

// TestSettledCostCountsUntilTheLedgerShowsIt: a settled cost counted for a fixed minute, then
// the door trusted a ledger that had not caught up, and the same overshoot repeated every
// minute. It counts until the ledger's growth covers it (or the lag bounds it).
func TestSettledCostCountsUntilTheLedgerShowsIt(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	b := Budget{Name: "qa", Period: Daily, LimitUSD: 1, Program: "qa", Hard: true}
	r := NewReservations(10 * time.Minute)
	r.Sync(b, nil, 0.5, now)
	h, _, err := r.Reserve("web", "qa", 0.2, now, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Settle(h.ID, 0.1, now); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		after         time.Duration
		ledger, wantC float64
	}{
		{2 * time.Minute, 0.5, 0.6},   // the ledger lags: the settled 0.1 still counts
		{3 * time.Minute, 0.54, 0.6},  // it shows 0.04 of it: 0.06 left on its own
		{4 * time.Minute, 0.6, 0.6},   // all of it: nothing counted twice
		{5 * time.Minute, 0.65, 0.65}, // later spend is the ledger's alone
	}
	for _, s := range steps {
		r.Sync(b, nil, s.ledger, now.Add(s.after))
		if c, _ := r.Committed("qa"); math.Abs(c-s.wantC) > 1e-9 {
			t.Fatalf("after %s with the ledger at %v: committed %v, want %v", s.after, s.ledger, c, s.wantC)
		}
	}
	// A settled cost the ledger never shows stops counting after the lag.
	h, _, _ = r.Reserve("web", "qa", 0.2, now.Add(5*time.Minute), time.Minute)
	if err := r.Settle(h.ID, 0.2, now.Add(5*time.Minute)); err != nil {
		t.Fatal(err)
	}
	r.Sync(b, nil, 0.65, now.Add(14*time.Minute))
	if c, _ := r.Committed("qa"); math.Abs(c-0.85) > 1e-9 {
		t.Fatalf("within the lag: committed %v, want 0.85", c)
	}
	r.Sync(b, nil, 0.65, now.Add(16*time.Minute))
	if c, _ := r.Committed("qa"); math.Abs(c-0.65) > 1e-9 {
		t.Fatalf("past the lag: committed %v, want the ledger's 0.65", c)
	}
}
