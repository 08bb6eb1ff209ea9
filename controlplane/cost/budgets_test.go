package cost

import (
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dspyfleet/dspyfleet/controlplane/check"
	"github.com/dspyfleet/dspyfleet/pkg/cost"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// eventsOf returns the stored budget events, oldest first, as "kind threshold".
func eventsOf(t *testing.T, c *Tracker) []string {
	t.Helper()
	resp, err := c.ListBudgets()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i := len(resp.GetEvents()) - 1; i >= 0; i-- {
		e := resp.GetEvents()[i]
		out = append(out, e.GetKind()+" "+strconv.FormatFloat(e.GetThreshold(), 'g', -1, 64))
	}
	return out
}

// TestBudgetThresholdsOncePerPeriod runs one node of pool a at 3.6 USD/h against a daily budget
// of 3.6 USD over most of a day, a control-plane restart and into the next day: each threshold
// fires once per day, the restart fires nothing again.
func TestBudgetThresholdsOncePerPeriod(t *testing.T) {
	start := time.Date(2026, 11, 27, 22, 0, 0, 0, time.UTC)
	r := newLedgerRig(t, start, []*fleetv1.Node{
		{Id: "n1", Pool: "a", InstanceType: "m.large", State: fleetv1.NodeState_NODE_STATE_READY, ConnectedSince: timestamppb.New(start)},
	})
	if _, err := r.c.SetBudget(&fleetv1.Budget{Name: "a-daily", Period: fleetv1.BudgetPeriod_BUDGET_PERIOD_DAILY, LimitUsd: 3.6 / 3, Pool: "a"}, r.now); err != nil {
		t.Fatal(err)
	}
	// 1.2 USD a day is a third of an hour: 50 % after 10 min, 80 % after 16 min, 100 % after 20.
	r.run(11 * time.Minute)
	if got := eventsOf(t, r.c); strings.Join(got, ",") != "forecast 0,threshold 0.5" {
		t.Fatalf("after 11 min: %v", got)
	}
	r.restart(10 * time.Second)
	r.run(15 * time.Minute)
	if got := eventsOf(t, r.c); strings.Join(got, ",") != "forecast 0,threshold 0.5,threshold 0.8,threshold 1" {
		t.Fatalf("after 26 min and a restart: %v", got)
	}
	r.run(2 * time.Hour) // 26 minutes into the next day fire everything again
	got := eventsOf(t, r.c)
	if strings.Join(got, ",") != "forecast 0,threshold 0.5,threshold 0.8,threshold 1,forecast 0,threshold 0.5,threshold 0.8,threshold 1" {
		t.Fatalf("next day: %v", got)
	}
	resp, err := r.c.ListBudgets()
	if err != nil {
		t.Fatal(err)
	}
	st := resp.GetBudgets()[0]
	if !st.GetPeriodStart().AsTime().Equal(time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)) || len(st.GetFiredThresholds()) != 3 || st.GetUsed() < 1 {
		t.Fatalf("status %v", st)
	}
}

// TestBudgetForecastOnRisingRate: a program's token spend rises; the forecast alert fires when
// spend plus the run rate over the rest of the day passes the limit, before any threshold.
func TestBudgetForecastOnRisingRate(t *testing.T) {
	start := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	r := newLedgerRig(t, start, nil)
	if _, err := r.c.SetBudget(&fleetv1.Budget{Name: "qa", Period: fleetv1.BudgetPeriod_BUDGET_PERIOD_DAILY, LimitUsd: 200, Program: "qa", Thresholds: []float64{1}}, r.now); err != nil {
		t.Fatal(err)
	}
	one := tabledEvent("qa") // 1.3 USD
	seq := uint64(0)
	// 08:00-09:00: one request every 10 minutes, 7.8 USD/h: at most 7.8 + 7.8 × 15 h < 200.
	for range 6 {
		seq++
		r.traffic("a", "n1", seq, one)
		r.run(10 * time.Minute)
	}
	if got := eventsOf(t, r.c); len(got) != 0 {
		t.Fatalf("steady spend fired %v", got)
	}
	// The rate triples: by 09:30, 19.5 + 13 USD/h × 14.5 h > 200.
	for range 6 {
		for range 3 {
			seq++
			r.traffic("a", "n1", seq, one)
		}
		r.run(10 * time.Minute)
		if got := eventsOf(t, r.c); len(got) > 0 {
			if strings.Join(got, ",") != "forecast 0" {
				t.Fatalf("events %v", got)
			}
			return
		}
	}
	t.Fatal("a tripled run rate raised no forecast alert")
}

// TestBudgetGateConcurrent: many goroutines reserve against a hard pool budget at once and
// Settle at their estimate; what is spent plus held never exceeds the limit, and exactly as
// many requests get through as the limit allows.
func TestBudgetGateConcurrent(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	g := newBudgetGate()
	b := cost.Budget{Name: "hard", Period: cost.Daily, LimitUSD: 1, Pool: "a", Hard: true}
	g.sync(b, time.UTC, 0.5, now)
	var wg sync.WaitGroup
	var mu sync.Mutex
	accepted, refused := 0, 0
	for range 64 {
		wg.Go(func() {
			for range 20 {
				res, fb, err := g.Reserve("a", "qa", 0.01, now)
				if err != nil {
					if !errors.Is(err, cost.ErrExhausted) || fb != "" {
						t.Errorf("reserve: %v, fallback %q", err, fb)
					}
					mu.Lock()
					refused++
					mu.Unlock()
					continue
				}
				if c, _ := g.committed("hard"); c > 1+1e-9 {
					t.Errorf("committed %v over the limit", c)
				}
				if err := g.Settle(res, 0.01, now); err != nil {
					t.Error(err)
				}
				mu.Lock()
				accepted++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if accepted != 50 || refused != 64*20-50 {
		t.Fatalf("accepted %d, refused %d; want 50 (0.5 USD of room at 0.01)", accepted, refused)
	}
	// Uncovered requests pass with an empty reservation.
	res, _, err := g.Reserve("b", "other", 5, now)
	if err != nil || res.ID != 0 || g.Settle(res, 5, now) != nil || g.Release(res) != nil {
		t.Fatalf("uncovered request: %+v, %v", res, err)
	}
}

// TestBudgetGateFallbackAndReset: an exhausted pool budget with a fallback pool routes there;
// without one the refusal says when the period resets.
func TestBudgetGateFallbackAndReset(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	g := newBudgetGate()
	g.sync(cost.Budget{Name: "gpu", Period: cost.Daily, LimitUSD: 1, Pool: "gpu", Hard: true, FallbackPool: "cpu"}, time.UTC, 1, now)
	g.sync(cost.Budget{Name: "cpu", Period: cost.Weekly, LimitUSD: 1, Pool: "cpu", Hard: true}, time.UTC, 0.995, now)
	res, fb, err := g.Reserve("gpu", "", 0.004, now)
	if err != nil || fb != "cpu" || len(res.budgets) != 1 || res.budgets[0] != "cpu" {
		t.Fatalf("reserve = %+v, %q, %v; want the cpu fallback", res, fb, err)
	}
	_, _, err = g.Reserve("gpu", "", 0.004, now)
	var ex *cost.ExhaustedError
	if !errors.As(err, &ex) || ex.Budget != "cpu" || !ex.ResetAt.Equal(time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("second reserve = %v; want cpu exhausted until Monday", err)
	}
	if status := check.ToStatus(err); !strings.Contains(status.Error(), "ResourceExhausted") || !strings.Contains(status.Error(), "2026-11-30T00:00:00Z") {
		t.Fatalf("status %v", status)
	}
	if err := g.Release(res); err != nil {
		t.Fatal(err)
	}
	if n := g.expire(now.Add(holdTTL)); n != 0 {
		t.Fatalf("expired %d after release", n)
	}
}

// TestEstimate: a request is estimated at its program's recent cost per request, else the
// fleet's.
func TestEstimate(t *testing.T) {
	start := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	r := newLedgerRig(t, start, nil)
	r.run(10 * time.Second)
	if got := r.c.Gate.Estimate("qa"); got != 0 {
		t.Fatalf("estimate with no history = %v", got)
	}
	r.traffic("a", "n1", 1, tabledEvent("qa"), tabledEvent("qa"), tabledEvent("sum"))
	r.run(time.Minute)
	if got := r.c.Gate.Estimate("qa"); !approx(got, 1.3) {
		t.Fatalf("estimate(qa) = %v, want 1.3", got)
	}
	if got := r.c.Gate.Estimate("new"); !approx(got, 1.3) {
		t.Fatalf("estimate(new) = %v, want the fleet's 1.3", got)
	}
	r.now = r.now.Add(3 * time.Hour)
	r.run(10 * time.Second)
	if got := r.c.Gate.Estimate("qa"); got != 0 {
		t.Fatalf("estimate from stale history = %v", got)
	}
}
