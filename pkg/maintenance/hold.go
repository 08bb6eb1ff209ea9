package maintenance

import (
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/dspyfleet/dspyfleet/pkg/command"
)

// Disruptive reports whether a command of kind with params interrupts a node's service, and so
// waits for a maintenance window on a pool that has one: restart, deploy, cleanup (a dry run
// deletes nothing and is not), and a scale command that lowers the node's instances below
// current (its agent's reported count; 0, unknown, counts as 1, as the scaler does). Drain,
// undrain, backup and custom commands are not: a drain is how a node is taken out of service
// safely (a window drains its nodes itself), an undrain returns one, a backup only reads, and
// a custom action's effect is the agent's configuration, unknown here.
func Disruptive(kind command.Kind, params map[string]string, current int) bool {
	switch kind {
	case command.Restart, command.Deploy:
		return true
	case command.Cleanup:
		dry, err := strconv.ParseBool(params[command.ParamDryRun])
		return err != nil || !dry
	case command.Scale:
		want, err := strconv.Atoi(params[command.ParamInstances])
		return err != nil || want < max(current, 1)
	}
	return false
}

// PolicyWindow is a maintenance window that has not finished, as a hold policy of its pool.
type PolicyWindow struct {
	ID   string
	Spec WindowSpec
}

// Hold is the decision for one command: run now (Until zero), or wait until Until, the next
// opening of window Window of pool Pool.
type Hold struct {
	Window, Pool string
	Until        time.Time
}

// Held reports whether the command waits.
func (h Hold) Held() bool { return !h.Until.IsZero() }

// Reason says why the command waits, e.g. "held for maintenance window W of pool P until
// 2026-12-05 02:00 UTC".
func (h Hold) Reason() string {
	return fmt.Sprintf("held for maintenance window %s of pool %s until %s", h.Window, h.Pool, h.Until.UTC().Format("2006-01-02 15:04:05 UTC"))
}

// covers reports whether w is a policy for node of pool.
func (w PolicyWindow) covers(pool, node string) bool {
	return w.Spec.Pool == pool && (len(w.Spec.Nodes) == 0 || slices.Contains(w.Spec.Nodes, node))
}

// OpenAt reports whether the window is open at now: a one-off window from its start (unset:
// from when it was scheduled) to its end (unset: no end), a recurring one for Duration from
// each opening of its schedule.
func (w WindowSpec) OpenAt(now time.Time) bool {
	if w.Cron == "" {
		return !w.Start.After(now) && (w.End.IsZero() || now.Before(w.End))
	}
	opens, closes, ok := w.Opening(now.Add(-w.Duration))
	return ok && !opens.After(now) && now.Before(closes)
}

// HoldFor decides whether a command for node of pool runs now or waits for a window.
// A command that is not disruptive runs now; so does one on a pool (or node) no window covers,
// one while any covering window is open, and one whose covering windows never open again.
// Otherwise it waits for the earliest next opening among the covering windows (the first by id
// on a tie). Times are instants: a window's zone is in its timestamps and its cron spec is UTC.
func HoldFor(pool, node string, disruptive bool, windows []PolicyWindow, now time.Time) Hold {
	if !disruptive {
		return Hold{}
	}
	var best Hold
	for _, w := range windows {
		if !w.covers(pool, node) {
			continue
		}
		if w.Spec.OpenAt(now) {
			return Hold{}
		}
		opens, _, ok := w.Spec.Opening(now)
		if !ok || !opens.After(now) {
			continue
		}
		if !best.Held() || opens.Before(best.Until) || opens.Equal(best.Until) && w.ID < best.Window {
			best = Hold{Window: w.ID, Pool: pool, Until: opens}
		}
	}
	return best
}
