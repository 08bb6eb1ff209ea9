package scaling

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// diurnal is a synthetic request rate at minute i from a Monday: a floor of 50 requests/s, a
// bump of 250 requests/s peaking at 14:00 with a two-hour width, weekends at 60 %, a trend of
// +1 % a day and ±5 % noise.
func diurnal(r *rand.Rand, i int) float64 {
	hour := float64(i%minutesPerDay) / 60
	load := 50 + 250*math.Exp(-math.Pow((hour-14)/2, 2))
	if day := (i / minutesPerDay) % 7; day >= 5 {
		load *= 0.6
	}
	load *= 1 + 0.01*float64(i)/minutesPerDay
	return load * (1 + 0.1*(r.Float64()-0.5))
}

func predictivePolicy() Policy {
	p := DefaultPolicy(1, 100)
	p.Targets = []Target{{MetricRPS, 10}}
	p.Predictive = Predictive{Enabled: true, Metric: MetricRPS, Horizon: time.Hour, LeadTime: 5 * time.Minute, MinHistory: 48 * time.Hour}
	return p
}

var monday = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

// TestForecastDiurnal: after three weeks of a diurnal series, the forecast one hour ahead is
// within 10 % (MAPE, noise included), and the floor has the capacity for the afternoon peak
// before the load gets there.
func TestForecastDiurnal(t *testing.T) {
	p := predictivePolicy()
	r := rand.New(rand.NewPCG(3, 4))
	m := NewModel(monday, p.Predictive.Horizon)
	const days = 21
	for i := range days * minutesPerDay {
		m.Observe(diurnal(r, i))
	}
	mape, ok := m.MAPE()
	if !ok || mape > 0.10 {
		t.Fatalf("MAPE %.3f (measured %v), want at most 0.10", mape, ok)
	}
	t.Logf("MAPE one hour ahead after %d days: %.1f%%", days, 100*mape)

	// Day 22 (a Monday): walk the morning ramp minute by minute.
	ahead, ramp := 0, 0
	for i := days * minutesPerDay; i < days*minutesPerDay+14*60; i++ {
		load := diurnal(r, i)
		m.Observe(load)
		hour := float64(i%minutesPerDay) / 60
		if hour < 10 || hour > 13.5 {
			continue
		}
		floor, fc := PredictFloor(p, m)
		if !fc.Ready || len(fc.Load) != 60 || !strings.Contains(fc.Status, "MAPE") {
			t.Fatalf("forecast status %+v", fc)
		}
		later := rand.New(rand.NewPCG(9, 9))
		needLater := math.Ceil(diurnal(later, i+5) / 10)
		if float64(floor.Nodes) < 0.85*needLater {
			t.Fatalf("at %.2f h the floor is %d nodes; the load 5 min later needs about %.0f", hour, floor.Nodes, needLater)
		}
		ramp++
		if floor.Nodes > int(math.Ceil(load/10)) {
			ahead++
		}
	}
	if ahead < ramp*3/4 {
		t.Fatalf("the floor was above the current need in only %d of %d ramp minutes", ahead, ramp)
	}
}

func TestPredictiveOffUntilEnoughHistory(t *testing.T) {
	p := predictivePolicy()
	m := NewModel(monday, time.Hour)
	for range minutesPerDay + 10 {
		m.Observe(100)
	}
	floor, fc := PredictFloor(p, m)
	if floor.Nodes != 0 || fc.Ready || fc.Status != "off until enough history: 1450 of 2880 minutes" {
		t.Fatalf("floor %+v status %q", floor, fc.Status)
	}
	p.Predictive.Enabled = false
	if _, fc := PredictFloor(p, m); fc.Status != "predictive scaling is off" {
		t.Fatalf("status %q", fc.Status)
	}
}

func TestForecastConstantSeries(t *testing.T) {
	m := NewModel(monday, 30*time.Minute)
	for range 3 * minutesPerDay {
		m.Observe(40)
	}
	if f := m.Forecast(30); math.Abs(f-40) > 0.01 {
		t.Fatalf("forecast %v, want 40", f)
	}
	if mape, ok := m.MAPE(); !ok || mape > 1e-6 {
		t.Fatalf("MAPE %v %v, want 0", mape, ok)
	}
	if got := m.Next(); !got.Equal(monday.Add(3 * 24 * time.Hour)) {
		t.Fatalf("next minute %s", got)
	}
}

func BenchmarkModelObserve(b *testing.B) {
	m := NewModel(monday, time.Hour)
	r := rand.New(rand.NewPCG(1, 1))
	for i := 0; b.Loop(); i++ {
		m.Observe(diurnal(r, i))
	}
}
