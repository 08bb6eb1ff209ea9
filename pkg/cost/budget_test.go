package cost

import (
	"errors"
	"math"
	"slices"
	"testing"
	"time"
)

func TestPeriodBounds(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		ny = time.FixedZone("EST", -5*3600)
	}
	at := time.Date(2026, 11, 27, 3, 30, 0, 0, time.UTC) // a Friday
	tests := []struct {
		name       string
		p          Period
		loc        *time.Location
		start, end time.Time
	}{
		{"daily UTC", Daily, nil, time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)},
		{"weekly starts Monday", Weekly, time.UTC, time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)},
		{"monthly", Monthly, time.UTC, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)},
		{"daily in New York is still the 26th", Daily, ny, time.Date(2026, 11, 26, 0, 0, 0, 0, ny), time.Date(2026, 11, 27, 0, 0, 0, 0, ny)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, e := tt.p.Bounds(at, tt.loc)
			if !s.Equal(tt.start) || !e.Equal(tt.end) {
				t.Fatalf("Bounds = %v, %v; want %v, %v", s, e, tt.start, tt.end)
			}
		})
	}
	// Sunday belongs to the week that began the Monday before.
	s, _ := Weekly.Bounds(time.Date(2026, 11, 29, 23, 0, 0, 0, time.UTC), nil)
	if !s.Equal(time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("Sunday's week starts %v", s)
	}
}

func TestBudgetValidate(t *testing.T) {
	good := Budget{Name: "b", Period: Daily, LimitUSD: 10}
	tests := []struct {
		name  string
		edit  func(*Budget)
		field string
	}{
		{"good", func(*Budget) {}, ""},
		{"no period", func(b *Budget) { b.Period = NoPeriod }, "period"},
		{"negative limit", func(b *Budget) { b.LimitUSD = -1 }, "limit_usd"},
		{"zero limit", func(b *Budget) { b.LimitUSD = 0 }, "limit_usd"},
		{"threshold 0", func(b *Budget) { b.Thresholds = []float64{0} }, "thresholds[0]"},
		{"threshold over 10", func(b *Budget) { b.Thresholds = []float64{0.5, 10.5} }, "thresholds[1]"},
		{"threshold 10 allowed", func(b *Budget) { b.Thresholds = []float64{10} }, ""},
		{"threshold NaN", func(b *Budget) { b.Thresholds = []float64{math.NaN()} }, "thresholds[0]"},
		{"duplicate threshold", func(b *Budget) { b.Thresholds = []float64{0.5, 0.5} }, "thresholds[1]"},
		{"pool and program", func(b *Budget) { b.Pool, b.Program = "p", "q" }, "program"},
		{"fallback of a soft budget", func(b *Budget) { b.Pool, b.FallbackPool = "p", "cheap" }, "fallback_pool"},
		{"fallback to itself", func(b *Budget) { b.Hard, b.Pool, b.FallbackPool = true, "p", "p" }, "fallback_pool"},
		{"no name", func(b *Budget) { b.Name = "" }, "name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := good
			tt.edit(&b)
			err := b.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate = %v", err)
				}
				return
			}
			var fe FieldErrors
			if !errors.As(err, &fe) || fe[0].Field != tt.field {
				t.Fatalf("Validate = %v, want first field %s", err, tt.field)
			}
		})
	}
}

// TestEvaluateThresholdsOncePerPeriod walks a day of rising spend and the next day: each
// threshold fires once, in order, and again only in the next period.
func TestEvaluateThresholdsOncePerPeriod(t *testing.T) {
	b := Budget{Name: "b", Period: Daily, LimitUSD: 100}
	day := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	steps := []struct {
		at    time.Duration
		spend float64
		want  []float64
	}{
		{1 * time.Hour, 10, nil},
		{2 * time.Hour, 50, []float64{0.5}},
		{3 * time.Hour, 60, nil},
		{4 * time.Hour, 99, []float64{0.8}},
		{5 * time.Hour, 99, nil},
		{6 * time.Hour, 150, []float64{1}},
		{7 * time.Hour, 160, nil},
		{25 * time.Hour, 85, []float64{0.5, 0.8}}, // a new day: a jump fires both
		{26 * time.Hour, 90, nil},
	}
	var st State
	for _, s := range steps {
		var evs []Event
		st, _, evs = Evaluate(b, st, s.spend, 0, day.Add(s.at), nil)
		var got []float64
		for _, e := range evs {
			if e.Kind != ThresholdCrossed {
				t.Fatalf("at %s: unexpected %v event", s.at, e.Kind)
			}
			got = append(got, e.Threshold)
		}
		if !slices.Equal(got, s.want) {
			t.Fatalf("at %s spend %v: fired %v, want %v", s.at, s.spend, got, s.want)
		}
	}
}

// TestEvaluateForecast: a rising run rate raises the forecast over the limit before spend gets
// there; the alert fires once per period.
func TestEvaluateForecast(t *testing.T) {
	b := Budget{Name: "b", Period: Daily, LimitUSD: 100, Thresholds: []float64{1}}
	day := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	steps := []struct {
		hour        int
		spend, rate float64
		want        bool
	}{
		{2, 4, 2, false},  // 4 + 2×22 = 48
		{6, 20, 3, false}, // 20 + 3×18 = 74
		{8, 30, 5, true},  // 30 + 5×16 = 110
		{9, 35, 6, false}, // already fired
		{24 + 2, 4, 1, false},
		{24 + 3, 5, 9, true}, // next day fires again
	}
	var st State
	for _, s := range steps {
		var evs []Event
		var status Status
		st, status, evs = Evaluate(b, st, s.spend, s.rate, day.Add(time.Duration(s.hour)*time.Hour), nil)
		got := len(evs) == 1 && evs[0].Kind == ForecastOver
		if got != s.want || (len(evs) > 0 && !got) {
			t.Fatalf("hour %d: events %+v, want forecast %v", s.hour, evs, s.want)
		}
		wantForecast := s.spend + s.rate*float64(24-s.hour%24)
		if math.Abs(status.ForecastUSD-wantForecast) > 1e-9 {
			t.Fatalf("hour %d: forecast %v, want %v", s.hour, status.ForecastUSD, wantForecast)
		}
	}
}

func TestRunRate(t *testing.T) {
	day := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	hours := []HourSpend{{day.Add(8 * time.Hour), 100}, {day.Add(9 * time.Hour), 6}, {day.Add(10 * time.Hour), 3}}
	tests := []struct {
		name        string
		now, period time.Time
		want        float64
	}{
		{"last hour and the current half", day.Add(10*time.Hour + 30*time.Minute), day, (6 + 3) / 1.5},
		{"period just began", day.Add(10*time.Hour + 30*time.Minute), day.Add(10 * time.Hour), 3 / 0.5},
		{"at the period start", day.Add(10 * time.Hour), day.Add(10 * time.Hour), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := RunRate(hours, tt.now, tt.period); math.Abs(got-tt.want) > 1e-9 {
				t.Fatalf("RunRate = %v, want %v", got, tt.want)
			}
		})
	}
}
