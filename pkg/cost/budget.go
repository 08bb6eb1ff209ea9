package cost

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// Period is a budget's period.
type Period int

// The periods. The zero value is no period, which Validate refuses.
const (
	NoPeriod Period = iota
	Daily
	Weekly // Monday to Monday
	Monthly
)

// String returns "daily", "weekly", "monthly" or "none".
func (p Period) String() string {
	switch p {
	case Daily:
		return "daily"
	case Weekly:
		return "weekly"
	case Monthly:
		return "monthly"
	}
	return "none"
}

// Bounds returns the period [start, end) that holds t, with days starting at midnight in loc
// (UTC when nil) and weeks on Monday.
func (p Period) Bounds(t time.Time, loc *time.Location) (start, end time.Time) {
	if loc == nil {
		loc = time.UTC
	}
	t = t.In(loc)
	day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
	switch p {
	case Weekly:
		back := (int(day.Weekday()) + 6) % 7 // days since Monday
		start = day.AddDate(0, 0, -back)
		return start, start.AddDate(0, 0, 7)
	case Monthly:
		start = time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, loc)
		return start, start.AddDate(0, 1, 0)
	}
	return day, day.AddDate(0, 0, 1)
}

// DefaultThresholds are the alert thresholds of a budget that names none: 50, 80 and 100 %.
var DefaultThresholds = []float64{0.5, 0.8, 1}

// Budget is a spending limit over a period, for the whole fleet, one pool or one program.
type Budget struct {
	Name     string
	Period   Period
	LimitUSD float64
	// Pool and Program scope the budget; both empty means the whole fleet. At most one is set.
	Pool, Program string
	// Thresholds are shares of the limit (1 = 100 %), each in (0, 10]; nil means
	// DefaultThresholds.
	Thresholds []float64
	// Hard budgets refuse new requests at the door once the limit is reached, or send them to
	// FallbackPool when it is set.
	Hard         bool
	FallbackPool string
	// CapacityType limits the budget to the host cost of hosts of one capacity type (on_demand,
	// spot or reserved), in Pool when set; empty counts all cost.
	CapacityType string
}

// EffectiveThresholds returns the thresholds sorted, DefaultThresholds when none are set.
func (b Budget) EffectiveThresholds() []float64 {
	if len(b.Thresholds) == 0 {
		return DefaultThresholds
	}
	return slices.Sorted(slices.Values(b.Thresholds))
}

// Validate returns FieldErrors naming every bad field.
func (b Budget) Validate() error {
	var errs FieldErrors
	if msg := nameProblem(b.Name); msg != "" {
		errs.add("name", "%q %s", truncate(b.Name), msg)
	}
	if b.Period < Daily || b.Period > Monthly {
		errs.add("period", "must be daily, weekly or monthly")
	}
	checkAmount(&errs, "limit_usd", b.LimitUSD, MaxBudgetUSD)
	if b.LimitUSD == 0 {
		errs.add("limit_usd", "must be above 0")
	}
	if b.Pool != "" && b.Program != "" {
		errs.add("program", "a budget is for the fleet, one pool or one program, not a pool and a program")
	}
	for _, s := range []struct{ field, v string }{{"pool", b.Pool}, {"program", b.Program}, {"fallback_pool", b.FallbackPool}} {
		if s.v != "" {
			if msg := nameProblem(s.v); msg != "" {
				errs.add(s.field, "%q %s", truncate(s.v), msg)
			}
		}
	}
	seen := map[float64]bool{}
	for i, th := range b.Thresholds {
		switch {
		case math.IsNaN(th) || th <= 0 || th > 10:
			errs.add(fmt.Sprintf("thresholds[%d]", i), "%g must be in (0, 10] (1 = 100 %% of the limit)", th)
		case seen[th]:
			errs.add(fmt.Sprintf("thresholds[%d]", i), "%g is listed twice", th)
		}
		seen[th] = true
	}
	switch b.CapacityType {
	case "", "on_demand", "spot", "reserved":
	default:
		errs.add("capacity_type", "%q must be on_demand, spot or reserved", truncate(b.CapacityType))
	}
	if b.CapacityType != "" && b.Program != "" {
		errs.add("capacity_type", "counts host cost, which a program budget does not")
	}
	if b.CapacityType != "" && b.Hard {
		errs.add("hard", "a capacity-type budget cannot refuse requests: it counts host cost, not requests")
	}
	if b.FallbackPool != "" {
		if !b.Hard {
			errs.add("fallback_pool", "only a hard budget routes to a fallback pool")
		}
		if b.FallbackPool == b.Pool {
			errs.add("fallback_pool", "%q is the budget's own pool", b.FallbackPool)
		}
	}
	return errs.orNil()
}

// State is what a budget remembers between evaluations: the period it is in and what fired.
type State struct {
	PeriodStart   time.Time
	Fired         []float64 // thresholds fired in this period
	ForecastFired bool
}

// EventKind is what a budget event says.
type EventKind int

// The budget events.
const (
	// ThresholdCrossed: spend reached Threshold × the limit.
	ThresholdCrossed EventKind = iota + 1
	// ForecastOver: spend plus the run rate over the rest of the period exceeds the limit.
	ForecastOver
)

// String returns "threshold" or "forecast".
func (k EventKind) String() string {
	if k == ForecastOver {
		return "forecast"
	}
	return "threshold"
}

// Event is one budget alert.
type Event struct {
	Kind                         EventKind
	Threshold                    float64 // for ThresholdCrossed
	SpendUSD, LimitUSD           float64
	ForecastUSD                  float64
	PeriodStart, PeriodEnd, Time time.Time
}

// Status is a budget's standing at one time.
type Status struct {
	PeriodStart, PeriodEnd time.Time
	SpendUSD               float64
	RunRatePerHour         float64
	ForecastUSD            float64
	// Used is SpendUSD / LimitUSD.
	Used float64
}

// Forecast returns the projected period total: spend plus the hourly run rate over the rest of
// the period.
func Forecast(spend, ratePerHour float64, now, end time.Time) float64 {
	left := end.Sub(now).Hours()
	if left < 0 {
		left = 0
	}
	return spend + ratePerHour*left
}

// Evaluate checks budget b at now with spend so far in the current period and the current
// hourly run rate. A new period starts with nothing fired. Each threshold fires once per period,
// the highest crossed ones together when spend jumps; the forecast alert fires once per period,
// when the forecast exceeds the limit before spend itself has reached it.
func Evaluate(b Budget, st State, spend, ratePerHour float64, now time.Time, loc *time.Location) (State, Status, []Event) {
	start, end := b.Period.Bounds(now, loc)
	if !st.PeriodStart.Equal(start) {
		st = State{PeriodStart: start}
	}
	forecast := Forecast(spend, ratePerHour, now, end)
	status := Status{PeriodStart: start, PeriodEnd: end, SpendUSD: spend, RunRatePerHour: ratePerHour, ForecastUSD: forecast, Used: spend / b.LimitUSD}
	var events []Event
	ev := func(k EventKind, th float64) Event {
		return Event{Kind: k, Threshold: th, SpendUSD: spend, LimitUSD: b.LimitUSD, ForecastUSD: forecast, PeriodStart: start, PeriodEnd: end, Time: now}
	}
	fired := slices.Clone(st.Fired)
	for _, th := range b.EffectiveThresholds() {
		if spend >= th*b.LimitUSD-epsilonUSD && !slices.Contains(fired, th) {
			fired = append(fired, th)
			events = append(events, ev(ThresholdCrossed, th))
		}
	}
	st.Fired = fired
	if !st.ForecastFired && spend < b.LimitUSD && forecast > b.LimitUSD {
		st.ForecastFired = true
		events = append(events, ev(ForecastOver, 0))
	}
	return st, status, events
}

// HourSpend is one UTC hour's spend.
type HourSpend struct {
	Hour time.Time
	USD  float64
}

// RunRate returns the hourly run rate at now from hourly spend: the spend of the current
// (partial) hour and the one before it, over the time they cover, counting only time since
// periodStart. It is 0 before any time has passed.
func RunRate(hours []HourSpend, now, periodStart time.Time) float64 {
	cur := now.UTC().Truncate(time.Hour)
	from := cur.Add(-time.Hour)
	if periodStart.After(from) {
		from = periodStart
	}
	if !now.After(from) {
		return 0
	}
	var usd float64
	for _, h := range hours {
		if !h.Hour.Before(from.Truncate(time.Hour)) && !h.Hour.After(cur) && !h.Hour.Before(periodStart.Truncate(time.Hour)) {
			usd += h.USD
		}
	}
	return usd / now.Sub(from).Hours()
}
