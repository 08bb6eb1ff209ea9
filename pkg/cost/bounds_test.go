package cost

import (
	"math"
	"slices"
	"strings"
	"testing"
)

func TestAmountProblem(t *testing.T) {
	for _, tc := range []struct {
		v, limit float64
		want     string
	}{
		{0, 10, ""},
		{10, 10, ""},
		{10.5, 10, "over the bound of 10"},
		{1e308, MaxHourly, "over the bound"},
		{-1, 10, "must not be negative"},
		{math.NaN(), 10, "not a finite number"},
		{math.Inf(1), 10, "not a finite number"},
	} {
		got := AmountProblem(tc.v, tc.limit)
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("AmountProblem(%g, %g) = %q, want %q", tc.v, tc.limit, got, tc.want)
		}
	}
}

func TestTableValidateBounds(t *testing.T) {
	tab := Table{
		Instances: map[string]InstancePrice{"big": {OnDemandHourly: 1e308}, "ok": {OnDemandHourly: MaxHourly}},
		Models:    map[string]ModelPrice{"m": {CachedInputPerMTok: MaxPerMTok * 2}},
	}
	err := tab.Validate()
	if err == nil || !strings.Contains(err.Error(), "instances[big].on_demand_hourly") || !strings.Contains(err.Error(), "models[m].cached_input_per_mtok") ||
		strings.Contains(err.Error(), "instances[ok]") {
		t.Fatalf("Validate = %v, want the two prices over their bounds named", err)
	}
	if _, err := (Table{}).HostHourly(Host{ExplicitHourly: 1e308}); err == nil || !strings.Contains(err.Error(), "hourly_price") {
		t.Fatalf("HostHourly of an explicit 1e308 = %v, want ErrUnknownPrice naming hourly_price", err)
	}
	if (Budget{Name: "b", Period: Daily, LimitUSD: math.MaxFloat64}).Validate() == nil {
		t.Fatal("a budget limit over MaxBudgetUSD validates")
	}
}

func TestTableSanitized(t *testing.T) {
	tab := Table{
		Instances: map[string]InstancePrice{"big": {OnDemandHourly: 1e308}, "ok": {OnDemandHourly: 1}},
		Models: map[string]ModelPrice{
			"huge": {InputPerMTok: math.Inf(1)}, "a": {InputPerMTok: 1, Alternative: "huge"}, "b": {InputPerMTok: 2, Alternative: "a"},
		},
	}
	out, dropped := tab.Sanitized()
	if !slices.Equal(dropped, []string{"instances[big]", "models[huge]"}) {
		t.Fatalf("dropped %v", dropped)
	}
	if len(out.Instances) != 1 || out.Models["a"].Alternative != "" || out.Models["b"].Alternative != "a" {
		t.Fatalf("sanitized table %+v", out)
	}
	if err := out.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestAmountFinite(t *testing.T) {
	if !(Amount{USD: 1, UpSeconds: 3600}).Finite() {
		t.Fatal("a finite amount is not Finite")
	}
	for _, a := range []Amount{{USD: math.Inf(1)}, {SavedUSD: math.NaN()}, {UpSeconds: math.Inf(-1)}, {UnpricedSeconds: math.NaN()}} {
		if a.Finite() {
			t.Errorf("%+v is Finite", a)
		}
	}
}
