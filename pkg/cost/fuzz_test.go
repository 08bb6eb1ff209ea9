package cost

import (
	"errors"
	"math"
	"testing"
)

// FuzzTableValidate: Validate never panics, and accepts a table exactly when every price is a
// finite amount not below zero and within its bound, and every name is good.
func FuzzTableValidate(f *testing.F) {
	f.Add("m.large", 0.1, 0.03, 0.06, 2.0, "gpt", 1.0, 3.0, 0.5, "")
	f.Add("", -1.0, math.NaN(), math.Inf(1), -2.0, "a\x00b", -1.0, 0.0, 0.0, "gpt")
	f.Add("m.large", 1e308, 0.0, 0.0, 2.0, "gpt", 1.0, 1e308, 0.5, "")
	f.Fuzz(func(t *testing.T, inst string, od, spot, res, cpus float64, model string, in, out, cached float64, alt string) {
		tab := Table{
			Instances: map[string]InstancePrice{inst: {OnDemandHourly: od, SpotHourly: spot, ReservedHourly: res, VCPUs: cpus}},
			Models:    map[string]ModelPrice{model: {InputPerMTok: in, OutputPerMTok: out, CachedInputPerMTok: cached, Alternative: alt}},
		}
		err := tab.Validate()
		good := func(v, limit float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) && v >= 0 && v <= limit }
		want := good(od, MaxHourly) && good(spot, MaxHourly) && good(res, MaxHourly) && good(cpus, MaxVCPUs) &&
			good(in, MaxPerMTok) && good(out, MaxPerMTok) && good(cached, MaxPerMTok) &&
			nameProblem(inst) == "" && nameProblem(model) == "" && alt == ""
		if (err == nil) != want {
			t.Fatalf("Validate = %v, want ok %v", err, want)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Fatalf("error %v does not wrap ErrInvalid", err)
		}
	})
}

// FuzzBudgetValidate: Validate never panics and refuses every threshold outside (0, 10] and
// every limit that is not a positive finite amount.
func FuzzBudgetValidate(f *testing.F) {
	f.Add("b", 1, 10.0, "pool", "", 0.5, 1.0, true, "cheap")
	f.Add("", 0, math.NaN(), "", "p", 0.0, 11.0, false, "x")
	f.Fuzz(func(t *testing.T, name string, period int, limit float64, pool, program string, th1, th2 float64, hard bool, fallback string) {
		b := Budget{Name: name, Period: Period(period), LimitUSD: limit, Pool: pool, Program: program, Thresholds: []float64{th1, th2}, Hard: hard, FallbackPool: fallback}
		err := b.Validate()
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Fatalf("error %v does not wrap ErrInvalid", err)
		}
		inRange := func(v float64) bool { return v > 0 && v <= 10 }
		if err == nil && (!inRange(th1) || !inRange(th2) || !(limit > 0) || math.IsInf(limit, 0) || b.Period < Daily || b.Period > Monthly) {
			t.Fatalf("Validate accepted %+v", b)
		}
	})
}

// FuzzTableSanitized: whatever a stored table holds, what Sanitized keeps validates, and it
// drops only entries Validate refuses.
func FuzzTableSanitized(f *testing.F) {
	f.Add("m.large", 0.1, 1e308, "gpt", 1.0, "cheap", "cheap", 0.5)
	f.Add("", math.Inf(1), 0.0, "a\x00b", math.NaN(), "gpt", "x", -1.0)
	f.Fuzz(func(t *testing.T, inst string, od, spot float64, model string, in float64, alt, model2 string, in2 float64) {
		tab := Table{
			Instances: map[string]InstancePrice{inst: {OnDemandHourly: od, SpotHourly: spot}},
			Models:    map[string]ModelPrice{model: {InputPerMTok: in, Alternative: alt}, model2: {InputPerMTok: in2}},
		}
		out, dropped := tab.Sanitized()
		if err := out.Validate(); err != nil {
			t.Fatalf("sanitized table does not validate: %v", err)
		}
		if len(out.Instances)+len(out.Models)+len(dropped) != len(tab.Instances)+len(tab.Models) {
			t.Fatalf("kept %d and dropped %v of %d entries", len(out.Instances)+len(out.Models), dropped, len(tab.Instances)+len(tab.Models))
		}
		if tab.Validate() == nil && len(dropped) > 0 {
			t.Fatalf("dropped %v of a valid table", dropped)
		}
	})
}
