package scaling

import (
	"errors"
	"testing"
	"time"
)

func TestTargetMix(t *testing.T) {
	for _, tc := range []struct {
		name    string
		c       Capacity
		desired int
		scarce  bool
		want    Mix
	}{
		{"all on-demand by default", Capacity{}, 5, false, Mix{OnDemand: 5}},
		{"empty pool", Capacity{BaseOnDemand: 2, SpotFraction: 1}, 0, false, Mix{}},
		{"base above desired", Capacity{BaseOnDemand: 4, SpotFraction: 1}, 3, false, Mix{OnDemand: 3}},
		{"base then all spot", Capacity{BaseOnDemand: 2, SpotFraction: 1}, 10, false, Mix{OnDemand: 2, Spot: 8}},
		{"70 % of the rest on spot, rounded down", Capacity{BaseOnDemand: 1, SpotFraction: 0.7}, 6, false, Mix{OnDemand: 3, Spot: 3}},
		{"exact fraction", Capacity{BaseOnDemand: 2, SpotFraction: 0.5}, 10, false, Mix{OnDemand: 6, Spot: 4}},
		{"scarce spot with fallback runs on-demand", Capacity{BaseOnDemand: 2, SpotFraction: 1, Fallback: true}, 10, true, Mix{OnDemand: 10}},
		{"scarce spot without fallback keeps asking spot", Capacity{BaseOnDemand: 2, SpotFraction: 1}, 10, true, Mix{OnDemand: 2, Spot: 8}},
	} {
		if got := TargetMix(tc.c, tc.desired, tc.scarce); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestAdditions(t *testing.T) {
	for _, tc := range []struct {
		name         string
		target, have Mix
		add          int
		want         Mix
	}{
		{"nothing to add", Mix{OnDemand: 2, Spot: 2}, Mix{OnDemand: 2, Spot: 2}, 0, Mix{}},
		{"short of base first", Mix{OnDemand: 2, Spot: 3}, Mix{OnDemand: 1, Spot: 1}, 1, Mix{OnDemand: 1}},
		{"replace a preempted spot node", Mix{OnDemand: 2, Spot: 3}, Mix{OnDemand: 2, Spot: 2}, 1, Mix{Spot: 1}},
		{"fallback replaces spot with on-demand", Mix{OnDemand: 5}, Mix{OnDemand: 2, Spot: 2}, 1, Mix{OnDemand: 1}},
		{"both types", Mix{OnDemand: 3, Spot: 3}, Mix{OnDemand: 1, Spot: 1}, 4, Mix{OnDemand: 2, Spot: 2}},
		{"more than the targets place goes on-demand", Mix{OnDemand: 1, Spot: 1}, Mix{OnDemand: 1, Spot: 1}, 2, Mix{OnDemand: 2}},
		{"over on-demand: the rest is spot", Mix{OnDemand: 1, Spot: 4}, Mix{OnDemand: 3}, 2, Mix{Spot: 2}},
	} {
		if got := Additions(tc.target, tc.have, tc.add); got != tc.want || got.Total() != max(tc.add, 0) {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestSpotScarce(t *testing.T) {
	now := time.Unix(1e9, 0)
	c := Capacity{SpotRetry: 10 * time.Minute}
	for _, tc := range []struct {
		last time.Time
		want bool
	}{
		{time.Time{}, false},
		{now.Add(-time.Minute), true},
		{now.Add(-10 * time.Minute), false},
	} {
		if got := c.SpotScarce(tc.last, now); got != tc.want {
			t.Errorf("last loss %s: %v, want %v", tc.last, got, tc.want)
		}
	}
}

func TestCapacityValidate(t *testing.T) {
	for _, tc := range []struct {
		c     Capacity
		field string
	}{
		{Capacity{BaseOnDemand: 11}, "base_on_demand"},
		{Capacity{BaseOnDemand: -1}, "base_on_demand"},
		{Capacity{SpotFraction: 1.5}, "spot_fraction"},
		{Capacity{SpotFraction: -0.1}, "spot_fraction"},
		{Capacity{SpotRetry: -time.Second}, "spot_retry"},
	} {
		p := DefaultPolicy(1, 10)
		p.Capacity = tc.c
		err := p.Validate()
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("%+v: %v, want an error naming %s", tc.c, err, tc.field)
		}
	}
	p := DefaultPolicy(1, 10)
	p.Capacity = Capacity{BaseOnDemand: 10, SpotFraction: 1, Fallback: true}
	if err := p.Validate(); err != nil {
		t.Errorf("valid capacity refused: %v", err)
	}
}

func TestDecideReplacesReclaimedNodes(t *testing.T) {
	now := time.Unix(1e9, 0)
	p := DefaultPolicy(1, 10)
	p.ScaleUp.Cooldown = time.Hour
	st := State{Actions: []Action{{Time: now.Add(-time.Minute), From: 3, To: 4}}}
	snap := Snapshot{Now: now, Current: 3, Ready: 3, Replace: 1, Observed: map[Metric]float64{}}
	d, _ := Decide(p, st, snap)
	if d.Desired != 4 {
		t.Fatalf("desired %d, want 4 (3 + 1 replacement, past the cooldown): %s", d.Desired, d.Reason)
	}
	snap.Replace = 0
	if d, _ := Decide(p, st, snap); d.Desired != 3 {
		t.Fatalf("without a replacement desired %d, want 3", d.Desired)
	}
	p.Max = 3
	snap.Replace = 1
	if d, _ := Decide(p, st, snap); d.Desired != 3 {
		t.Fatalf("replacement past max: desired %d, want 3", d.Desired)
	}
}
