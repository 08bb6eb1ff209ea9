package maintenance

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// everyHour is a Schedule firing on the hour.
type everyHour struct{}

func (everyHour) Next(t time.Time) time.Time { return t.Truncate(time.Hour).Add(time.Hour) }

func TestWindowValidate(t *testing.T) {
	now := time.Date(2026, 3, 1, 10, 30, 0, 0, time.UTC)
	nodes := []string{"a", "b", "c"}
	base := func(mut func(*WindowSpec)) WindowSpec {
		w := WindowSpec{Pool: "web", Tasks: []Task{{Kind: TaskRestart}}}
		mut(&w)
		w.Defaults()
		return w
	}
	tests := []struct {
		name string
		w    WindowSpec
		want string
	}{
		{"one-off now", base(func(*WindowSpec) {}), ""},
		{"recurring", base(func(w *WindowSpec) { w.Cron, w.Schedule, w.Duration = "0 * * * *", everyHour{}, time.Hour }), ""},
		{"no tasks", base(func(w *WindowSpec) { w.Tasks = nil }), "spec.tasks: is empty"},
		{"deploy without version", base(func(w *WindowSpec) { w.Tasks = []Task{{Kind: TaskDeploy}} }), "spec.tasks[0].version"},
		{"unknown task", base(func(w *WindowSpec) { w.Tasks = []Task{{Kind: "reboot"}} }), "spec.tasks[0].kind"},
		{"custom without action", base(func(w *WindowSpec) { w.Tasks = []Task{{Kind: TaskCustom}} }), "spec.tasks[0].action"},
		{"action on a restart", base(func(w *WindowSpec) { w.Tasks = []Task{{Kind: TaskRestart, Action: "x"}} }), "spec.tasks[0].action"},
		{"custom", base(func(w *WindowSpec) { w.Tasks = []Task{{Kind: TaskCustom, Action: "rotate-keys"}} }), ""},
		{"end before start", base(func(w *WindowSpec) { w.Start, w.End = now.Add(2*time.Hour), now.Add(time.Hour) }), "spec.end"},
		{"end in the past", base(func(w *WindowSpec) { w.End = now.Add(-time.Hour) }), "spec.end"},
		{"cron that does not parse", base(func(w *WindowSpec) {
			w.Cron, w.CronError, w.Duration = "61 * * * *", errors.New("bad minute"), time.Hour
		}), `spec.cron: "61 * * * *" does not parse`},
		{"cron without duration", base(func(w *WindowSpec) { w.Cron, w.Schedule = "0 * * * *", everyHour{} }), "spec.duration"},
		{"duration on a one-off", base(func(w *WindowSpec) { w.Duration = time.Hour }), "spec.duration"},
		{"min healthy = pool", base(func(w *WindowSpec) { w.MinHealthy = 3 }), "spec.min_healthy"},
		{"unknown node", base(func(w *WindowSpec) { w.Nodes = []string{"z"} }), "spec.nodes[0]"},
		{"empty pool", base(func(w *WindowSpec) { w.Pool = "" }), "spec.pool"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.w.Validate(nodes, now)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate = %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate = %v, want ErrInvalid containing %q", err, tt.want)
			}
		})
	}
}

func TestWindowOpening(t *testing.T) {
	now := time.Date(2026, 3, 1, 10, 30, 0, 0, time.UTC)
	oneOff := WindowSpec{Start: now.Add(time.Hour), End: now.Add(2 * time.Hour)}
	if o, c, ok := oneOff.Opening(now); !ok || !o.Equal(now.Add(time.Hour)) || !c.Equal(now.Add(2*time.Hour)) {
		t.Fatalf("one-off opening %s %s %v", o, c, ok)
	}
	if o, _, ok := oneOff.Opening(now.Add(90 * time.Minute)); !ok || !o.Equal(now.Add(90*time.Minute)) {
		t.Fatalf("one-off already open: %s %v", o, ok)
	}
	if _, _, ok := oneOff.Opening(now.Add(3 * time.Hour)); ok {
		t.Fatal("a one-off window past its end opened again")
	}
	rec := WindowSpec{Cron: "0 * * * *", Schedule: everyHour{}, Duration: 10 * time.Minute}
	if o, c, ok := rec.Opening(now); !ok || !o.Equal(time.Date(2026, 3, 1, 11, 0, 0, 0, time.UTC)) || c.Sub(o) != 10*time.Minute {
		t.Fatalf("recurring opening %s %s %v", o, c, ok)
	}
}

func TestMayTake(t *testing.T) {
	tests := []struct {
		name                                                          string
		pending, unavailable, ready, maxUnavailable, minHealthy, want int
	}{
		{"first node", 4, 0, 4, 1, 1, 1},
		{"max unavailable reached", 3, 1, 3, 1, 1, 0},
		{"min healthy binds before max unavailable", 4, 0, 4, 3, 3, 1},
		{"one already down leaves no room", 4, 1, 3, 2, 3, 0},
		{"two at once", 4, 0, 4, 2, 1, 2},
	}
	for _, tt := range tests {
		if got := MayTake(tt.pending, tt.unavailable, tt.ready, tt.maxUnavailable, tt.minHealthy); got != tt.want {
			t.Errorf("%s: MayTake = %d, want %d", tt.name, got, tt.want)
		}
	}
}
