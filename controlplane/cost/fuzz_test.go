package cost

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/dspyfleet/dspyfleet/controlplane/check"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// FuzzBudgetFromProto: any budget is either accepted whole or refused with ErrInvalidArgument
// naming a budget field; accepted ones have a period, a positive limit and thresholds in (0, 10].
func FuzzBudgetFromProto(f *testing.F) {
	f.Add("b", int32(1), 10.0, "web", "", 0.5, true, "cpu", "Europe/Berlin")
	f.Add("", int32(0), math.NaN(), "a b", "p", 11.0, false, "x", "Nowhere/Land")
	f.Fuzz(func(t *testing.T, name string, period int32, limit float64, pool, program string, th float64, hard bool, fallback, zone string) {
		pb := &fleetv1.Budget{Name: name, Period: fleetv1.BudgetPeriod(period), LimitUsd: limit, Pool: pool, Program: program,
			Thresholds: []float64{th}, Hard: hard, FallbackPool: fallback, TimeZone: zone}
		b, loc, err := BudgetFromProto(pb)
		if err != nil {
			if !errors.Is(err, check.ErrInvalidArgument) || !strings.Contains(err.Error(), "budget.") {
				t.Fatalf("error %v is not an invalid argument naming a budget field", err)
			}
			return
		}
		if loc == nil || b.Period < 1 || b.Period > 3 || !(b.LimitUSD > 0) || math.IsInf(b.LimitUSD, 0) || !(th > 0 && th <= 10) || !check.ValidID(name) {
			t.Fatalf("accepted %v", pb)
		}
	})
}

// FuzzValidatePrices: any table is accepted whole or refused naming a field; accepted tables
// hold no negative or non-finite price.
func FuzzValidatePrices(f *testing.F) {
	f.Add("m.large", 0.1, 0.05, "gpt", 1.0, 3.0, "")
	f.Add("", -1.0, math.Inf(1), "x\x00", math.NaN(), -2.0, "gpt")
	f.Fuzz(func(t *testing.T, inst string, od, spot float64, model string, in, out float64, alt string) {
		p := &fleetv1.Prices{
			Instances: []*fleetv1.InstancePrice{{InstanceType: inst, OnDemandHourly: od, SpotHourly: spot}},
			Models:    []*fleetv1.ModelPrice{{Model: model, InputPerMtok: in, OutputPerMtok: out, Alternative: alt}},
		}
		tab, err := ValidatePrices(p)
		if err != nil {
			if !errors.Is(err, check.ErrInvalidArgument) || !strings.Contains(err.Error(), "[") {
				t.Fatalf("error %v names no field", err)
			}
			return
		}
		for _, v := range []float64{od, spot, in, out} {
			if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
				t.Fatalf("accepted price %v in %v", v, p)
			}
		}
		if len(tab.Instances) != 1 || len(tab.Models) != 1 {
			t.Fatalf("table %v", tab)
		}
	})
}
