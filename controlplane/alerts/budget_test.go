package alerts

import (
	"testing"

	"github.com/dspyfleet/dspyfleet/pkg/rules"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

func TestBudgetSharesReachPoolsAndFleet(t *testing.T) {
	snap := rules.Snapshot{Pools: []rules.Pool{{Name: "web"}, {Name: "batch"}}}
	budgetShares(&snap, []*fleetv1.BudgetStatus{
		{Budget: &fleetv1.Budget{Name: "web", Pool: "web", LimitUsd: 100}, Used: 0.85, ForecastUsd: 120},
		{Budget: &fleetv1.Budget{Name: "qa", Program: "qa", LimitUsd: 10}, Used: 0.3, ForecastUsd: 15},
		{Budget: &fleetv1.Budget{Name: "broken", LimitUsd: 0}, Used: 9},
	})
	if got := snap.Pools[0]; got.BudgetUsed != 0.85 || got.BudgetForecast != 1.2 {
		t.Errorf("web: used %v forecast %v, want 0.85 and 1.2", got.BudgetUsed, got.BudgetForecast)
	}
	if got := snap.Pools[1]; got.BudgetUsed != 0 || got.BudgetForecast != 0 {
		t.Errorf("batch has no budget but shows %v / %v", got.BudgetUsed, got.BudgetForecast)
	}
	if snap.Fleet.BudgetUsed != 0.85 || snap.Fleet.BudgetForecast != 1.5 {
		t.Errorf("fleet: used %v forecast %v, want 0.85 and 1.5 (the program budget's forecast)", snap.Fleet.BudgetUsed, snap.Fleet.BudgetForecast)
	}
}

func TestHealingKeepsTheScaledMinimum(t *testing.T) {
	a := &Alerter{cfg: Config{MinHealthy: 1, PoolMinHealthy: map[string]int{"batch": 4}}}
	a.ScalingMin = func() map[string]int { return map[string]int{"web": 3, "batch": 2, "tiny": 0} }
	p := a.healingPolicy()
	for pool, want := range map[string]int{"web": 3, "batch": 4, "tiny": 1} {
		if got := p.PoolMinHealthy[pool]; got != want {
			t.Errorf("pool %s keeps %d ready nodes, want %d", pool, got, want)
		}
	}
}
