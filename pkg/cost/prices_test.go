package cost

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func testTable() Table {
	return Table{
		Instances: map[string]InstancePrice{
			"m.xlarge": {OnDemandHourly: 0.20, SpotHourly: 0.06, ReservedHourly: 0.12, VCPUs: 4, MemoryGiB: 16},
			"m.large":  {OnDemandHourly: 0.10, SpotHourly: 0.03, ReservedHourly: 0.06, VCPUs: 2, MemoryGiB: 8},
			"m.medium": {OnDemandHourly: 0.05, VCPUs: 1, MemoryGiB: 4},
		},
		Models: map[string]ModelPrice{
			"big":   {InputPerMTok: 10, OutputPerMTok: 30, Alternative: "small"},
			"small": {InputPerMTok: 1, OutputPerMTok: 3, CachedInputPerMTok: 0.5},
		},
	}
}

func TestTableValidate(t *testing.T) {
	tests := []struct {
		name   string
		edit   func(*Table)
		fields []string
	}{
		{"good", func(*Table) {}, nil},
		{"negative spot", func(t *Table) { t.Instances["m.large"] = InstancePrice{OnDemandHourly: 1, SpotHourly: -1} }, []string{"instances[m.large].spot_hourly"}},
		{"NaN on-demand", func(t *Table) { t.Instances["x"] = InstancePrice{OnDemandHourly: math.NaN()} }, []string{"instances[x].on_demand_hourly"}},
		{"negative model output", func(t *Table) { t.Models["m"] = ModelPrice{OutputPerMTok: -3} }, []string{"models[m].output_per_mtok"}},
		{"negative cached", func(t *Table) { t.Models["m"] = ModelPrice{CachedInputPerMTok: math.Inf(-1)} }, []string{"models[m].cached_input_per_mtok"}},
		{"unknown alternative", func(t *Table) { t.Models["m"] = ModelPrice{Alternative: "nope"} }, []string{"models[m].alternative"}},
		{"self alternative", func(t *Table) { t.Models["m"] = ModelPrice{Alternative: "m"} }, []string{"models[m].alternative"}},
		{"empty name", func(t *Table) { t.Instances[""] = InstancePrice{} }, []string{"instances[]"}},
		{"control char", func(t *Table) { t.Models["a\nb"] = ModelPrice{} }, []string{"models[a\nb]"}},
		{"two bad", func(t *Table) {
			t.Instances["a"] = InstancePrice{OnDemandHourly: -1, VCPUs: -2}
		}, []string{"instances[a].on_demand_hourly", "instances[a].vcpus"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab := testTable().Clone()
			tt.edit(&tab)
			err := tab.Validate()
			if tt.fields == nil {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			var fe FieldErrors
			if !errors.As(err, &fe) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("Validate() = %v, want FieldErrors wrapping ErrInvalid", err)
			}
			var got []string
			for _, e := range fe {
				got = append(got, e.Field)
			}
			if strings.Join(got, ",") != strings.Join(tt.fields, ",") {
				t.Fatalf("fields = %q, want %q (%v)", got, tt.fields, err)
			}
		})
	}
}

func TestHostHourly(t *testing.T) {
	tab := testTable()
	tests := []struct {
		name string
		host Host
		want float64
		err  bool
	}{
		{"on-demand", Host{InstanceType: "m.large"}, 0.10, false},
		{"spot", Host{InstanceType: "m.large", Purchase: Spot}, 0.03, false},
		{"reserved", Host{InstanceType: "m.xlarge", Purchase: Reserved}, 0.12, false},
		{"explicit wins", Host{InstanceType: "m.large", ExplicitHourly: 0.5}, 0.5, false},
		{"explicit without type", Host{ExplicitHourly: 0.25}, 0.25, false},
		{"unknown type", Host{InstanceType: "z.huge"}, 0, true},
		{"no type, no price", Host{}, 0, true},
		{"spot not offered", Host{InstanceType: "m.medium", Purchase: Spot}, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tab.HostHourly(tt.host)
			if tt.err != (err != nil) || got != tt.want {
				t.Fatalf("HostHourly = %v, %v; want %v, error %v", got, err, tt.want, tt.err)
			}
			if err != nil && !errors.Is(err, ErrUnknownPrice) {
				t.Fatalf("error %v does not wrap ErrUnknownPrice", err)
			}
		})
	}
}

func TestParsePurchase(t *testing.T) {
	for in, want := range map[string]Purchase{"": OnDemand, "on-demand": OnDemand, "spot": Spot, "reserved": Reserved} {
		if got, err := ParsePurchase(in); err != nil || got != want {
			t.Errorf("ParsePurchase(%q) = %v, %v; want %v", in, got, err, want)
		}
		if got, _ := ParsePurchase(want.String()); got != want {
			t.Errorf("round trip of %v gave %v", want, got)
		}
	}
	if _, err := ParsePurchase("preemptible"); !errors.Is(err, ErrInvalid) {
		t.Errorf("ParsePurchase(preemptible) = %v, want ErrInvalid", err)
	}
}

func TestModelCost(t *testing.T) {
	m := ModelPrice{InputPerMTok: 2, OutputPerMTok: 8, CachedInputPerMTok: 0.5}
	// 1M input = 2, 0.5M output = 4, 2M cached = 1.
	if got := m.Cost(1_000_000, 500_000, 2_000_000); math.Abs(got-7) > 1e-12 {
		t.Fatalf("Cost = %v, want 7", got)
	}
	same := ModelPrice{InputPerMTok: 2}
	if got := same.Cost(0, 0, 1_000_000); got != 2 {
		t.Fatalf("cached without own price = %v, want the input price 2", got)
	}
}
