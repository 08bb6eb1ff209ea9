package maintenance

import (
	"testing"
	"time"

	"github.com/dspyfleet/dspyfleet/pkg/command"
)

// dailyAt is a Schedule firing every day at hour:minute of the zone of the time it is given, as
// a parsed cron spec without a time zone does.
type dailyAt struct{ hour, minute int }

func (d dailyAt) Next(t time.Time) time.Time {
	next := time.Date(t.Year(), t.Month(), t.Day(), d.hour, d.minute, 0, 0, t.Location())
	if !next.After(t) {
		next = next.AddDate(0, 0, 1)
	}
	return next
}

// daily returns a recurring window of pool opening every day at hour:minute UTC for d.
func daily(id, pool string, hour, minute int, d time.Duration, nodes ...string) PolicyWindow {
	return PolicyWindow{ID: id, Spec: WindowSpec{Pool: pool, Nodes: nodes, Cron: "daily", Schedule: dailyAt{hour, minute}, Duration: d}}
}

func at(day, hour, minute int) time.Time {
	return time.Date(2026, 12, day, hour, minute, 0, 0, time.UTC)
}

func TestDisruptive(t *testing.T) {
	tests := []struct {
		kind    command.Kind
		params  map[string]string
		current int
		want    bool
	}{
		{command.Restart, nil, 0, true},
		{command.Deploy, map[string]string{command.ParamVersion: "2.0"}, 0, true},
		{command.Cleanup, nil, 0, true},
		{command.Cleanup, map[string]string{command.ParamDryRun: "false"}, 0, true},
		{command.Cleanup, map[string]string{command.ParamDryRun: "true"}, 0, false},
		{command.Scale, map[string]string{command.ParamInstances: "2"}, 4, true},
		{command.Scale, map[string]string{command.ParamInstances: "4"}, 4, false},
		{command.Scale, map[string]string{command.ParamInstances: "6"}, 4, false},
		{command.Scale, map[string]string{command.ParamInstances: "0"}, 0, true},  // unknown count is 1
		{command.Scale, map[string]string{command.ParamInstances: "1"}, 0, false}, // unknown count is 1
		{command.Drain, nil, 0, false},
		{command.Undrain, nil, 0, false},
		{command.Backup, nil, 0, false},
		{command.Custom, map[string]string{command.ParamAction: "x"}, 0, false},
	}
	for _, tt := range tests {
		if got := Disruptive(tt.kind, tt.params, tt.current); got != tt.want {
			t.Errorf("Disruptive(%s, %v, %d) = %v, want %v", tt.kind, tt.params, tt.current, got, tt.want)
		}
	}
}

func TestHoldFor(t *testing.T) {
	night := daily("w-night", "P", 2, 0, time.Hour)       // 02:00–03:00 UTC
	midnight := daily("w-mid", "P", 23, 0, 3*time.Hour)   // 23:00–02:00 UTC, across midnight
	early := daily("w-early", "P", 1, 30, 15*time.Minute) // 01:30–01:45 UTC
	nodeOnly := daily("w-n1", "P", 4, 0, time.Hour, "n1") // 04:00–05:00, node n1 only
	oneOff := PolicyWindow{ID: "w-once", Spec: WindowSpec{Pool: "P", Start: at(5, 20, 0), End: at(5, 21, 0)}}
	openEnded := PolicyWindow{ID: "w-open", Spec: WindowSpec{Pool: "P", Start: at(4, 9, 0)}}
	newYork := time.FixedZone("EST", -5*3600)
	tests := []struct {
		name       string
		node       string
		disruptive bool
		windows    []PolicyWindow
		now        time.Time
		want       Hold
	}{
		{"no window runs now", "n1", true, nil, at(4, 10, 0), Hold{}},
		{"another pool's window runs now", "n1", true, []PolicyWindow{daily("w-q", "Q", 2, 0, time.Hour)}, at(4, 10, 0), Hold{}},
		{"not disruptive runs now", "n1", false, []PolicyWindow{night}, at(4, 10, 0), Hold{}},
		{"outside the window waits for the next opening", "n1", true, []PolicyWindow{night}, at(4, 10, 0), Hold{"w-night", "P", at(5, 2, 0)}},
		{"at the opening runs now", "n1", true, []PolicyWindow{night}, at(5, 2, 0), Hold{}},
		{"inside the window runs now", "n1", true, []PolicyWindow{night}, at(5, 2, 59), Hold{}},
		{"at the close waits a day", "n1", true, []PolicyWindow{night}, at(5, 3, 0), Hold{"w-night", "P", at(6, 2, 0)}},
		{"just before the opening waits", "n1", true, []PolicyWindow{night}, at(5, 1, 59), Hold{"w-night", "P", at(5, 2, 0)}},
		{"across midnight: before midnight is open", "n1", true, []PolicyWindow{midnight}, at(4, 23, 30), Hold{}},
		{"across midnight: after midnight is open", "n1", true, []PolicyWindow{midnight}, at(5, 1, 30), Hold{}},
		{"across midnight: after it closed waits", "n1", true, []PolicyWindow{midnight}, at(5, 2, 0), Hold{"w-mid", "P", at(5, 23, 0)}},
		{"the earliest opening of two wins", "n1", true, []PolicyWindow{night, early}, at(4, 10, 0), Hold{"w-early", "P", at(5, 1, 30)}},
		{"any open window lets it run", "n1", true, []PolicyWindow{night, early}, at(5, 1, 40), Hold{}},
		{"a node window covers its node", "n1", true, []PolicyWindow{nodeOnly}, at(4, 10, 0), Hold{"w-n1", "P", at(5, 4, 0)}},
		{"a node window does not cover others", "n2", true, []PolicyWindow{nodeOnly}, at(4, 10, 0), Hold{}},
		{"one-off before its start waits", "n1", true, []PolicyWindow{oneOff}, at(5, 10, 0), Hold{"w-once", "P", at(5, 20, 0)}},
		{"one-off inside runs now", "n1", true, []PolicyWindow{oneOff}, at(5, 20, 30), Hold{}},
		{"one-off past its end runs now (no policy left)", "n1", true, []PolicyWindow{oneOff}, at(5, 21, 0), Hold{}},
		{"one-off without end is open", "n1", true, []PolicyWindow{openEnded}, at(9, 0, 0), Hold{}},
		// 21:00 EST on the 4th is 02:00 UTC on the 5th: the window is open.
		{"a time in another zone is the same instant", "n1", true, []PolicyWindow{night}, time.Date(2026, 12, 4, 21, 0, 0, 0, newYork), Hold{}},
		{"a time in another zone waits for the UTC opening", "n1", true, []PolicyWindow{night}, time.Date(2026, 12, 4, 5, 0, 0, 0, newYork), Hold{"w-night", "P", at(5, 2, 0)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := HoldFor("P", tt.node, tt.disruptive, tt.windows, tt.now)
			if got.Window != tt.want.Window || got.Pool != tt.want.Pool || !got.Until.Equal(tt.want.Until) {
				t.Fatalf("HoldFor = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestHoldReason(t *testing.T) {
	h := Hold{Window: "w1", Pool: "P", Until: time.Date(2026, 12, 4, 21, 0, 0, 0, time.FixedZone("EST", -5*3600))}
	if got, want := h.Reason(), "held for maintenance window w1 of pool P until 2026-12-05 02:00:00 UTC"; got != want {
		t.Fatalf("Reason = %q, want %q", got, want)
	}
	if (Hold{}).Held() || !h.Held() {
		t.Fatal("Held")
	}
}
