package scaling

import (
	"testing"
	"time"
)

func spotPolicy() Policy {
	p := DefaultPolicy(2, 60)
	p.Targets = []Target{{Metric: MetricRPS, Value: 12}}
	p.Capacity = Capacity{BaseOnDemand: 2, SpotFraction: 0.7, SpotRetry: DefaultSpotRetry}
	return p
}

func TestSimulateSpot(t *testing.T) {
	tr, err := BuiltinTrace("diurnal", 1)
	if err != nil {
		t.Fatal(err)
	}
	res := SimulateSpot(spotPolicy(), DefaultSimulation(), DefaultSpotSimulation(), tr, 1)
	if len(res) != 3 || res[0].Mode != ModeOnDemand || res[1].Mode != ModeMixed || res[2].Mode != ModeMixedFallback {
		t.Fatalf("modes %+v", res)
	}
	od, mixed, fb := res[0], res[1], res[2]
	if od.SpotShare != 0 || od.Preemptions != 0 || od.SpotLaunches != 0 {
		t.Errorf("all on-demand ran spot: %+v", od)
	}
	for _, r := range []SpotResult{mixed, fb} {
		if r.Preemptions == 0 || r.SpotShare <= 0.3 {
			t.Errorf("%s: no preemptions or little spot: %+v", r.Mode, r)
		}
		if r.CostUSD >= od.CostUSD {
			t.Errorf("%s costs %.2f, not less than all on-demand %.2f", r.Mode, r.CostUSD, od.CostUSD)
		}
	}
	if mixed.FailedSpotLaunches == 0 {
		t.Errorf("mixed without fallback never hit an outage: %+v", mixed)
	}
	if fb.MinutesOverCapacity >= mixed.MinutesOverCapacity {
		t.Errorf("fallback %.1f min over capacity, not less than without %.1f", fb.MinutesOverCapacity, mixed.MinutesOverCapacity)
	}
	if again := SimulateSpot(spotPolicy(), DefaultSimulation(), DefaultSpotSimulation(), tr, 1); again[2] != fb {
		t.Errorf("same seed, another result: %+v vs %+v", again[2], fb)
	}
}

func TestSimulateSpotWithoutPreemptions(t *testing.T) {
	tr, err := BuiltinTrace("steady", 1)
	if err != nil {
		t.Fatal(err)
	}
	s := DefaultSpotSimulation()
	s.PreemptionsPerHour = 0
	res := SimulateSpot(spotPolicy(), DefaultSimulation(), s, tr, 1)
	res[2].Mode = res[1].Mode
	if res[1] != res[2] {
		t.Errorf("without preemptions fallback changes nothing, got %+v vs %+v", res[1], res[2])
	}
	if res[1].Preemptions != 0 || res[1].FailedSpotLaunches != 0 {
		t.Errorf("preemptions at rate 0: %+v", res[1])
	}
}

func TestSpotSimulationValidate(t *testing.T) {
	for _, s := range []SpotSimulation{
		{PreemptionsPerHour: -1}, {Notice: -time.Second}, {Outage: 48 * time.Hour}, {SpotHourly: -1},
	} {
		if err := s.Validate(); err == nil {
			t.Errorf("%+v accepted", s)
		}
	}
	if err := DefaultSpotSimulation().Validate(); err != nil {
		t.Error(err)
	}
}
