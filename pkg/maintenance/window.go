package maintenance

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// Task kinds a maintenance window runs on each node.
const (
	TaskRestart = "restart"
	TaskCleanup = "cleanup"
	TaskDeploy  = "deploy"
	TaskBackup  = "backup"
	TaskCustom  = "custom"
)

// Task is one task of a window.
type Task struct {
	Kind    string
	Version string // deploy
	Action  string // custom: the name of an action configured on the agents
}

// Schedule gives a recurring window's openings; a parsed cron spec is one.
type Schedule interface {
	// Next returns the first opening after t, or the zero time when there is none.
	Next(t time.Time) time.Time
}

// WindowSpec is a maintenance window's specification with Defaults applied.
type WindowSpec struct {
	Pool  string
	Nodes []string
	Tasks []Task
	// One-off: Start (zero means now) and End (zero means no limit).
	Start, End time.Time
	// Recurring: Schedule is set (CronError says why a given spec did not parse) and each
	// opening lasts Duration.
	Schedule  Schedule
	Cron      string
	CronError error
	Duration  time.Duration
	// MaxUnavailable bounds the pool's nodes out of routing; MinHealthy is the least number of
	// ready nodes in routing the pool keeps.
	MaxUnavailable, MinHealthy int
	DrainTimeout               time.Duration
}

// Defaults fills the unset limits.
func (w *WindowSpec) Defaults() {
	if w.MaxUnavailable == 0 {
		w.MaxUnavailable = 1
	}
	if w.MinHealthy == 0 {
		w.MinHealthy = 1
	}
	if w.DrainTimeout == 0 {
		w.DrainTimeout = DefaultDrainTimeout
	}
}

// Validate checks a window against the pool's nodes at now, naming every bad field.
func (w WindowSpec) Validate(poolNodes []string, now time.Time) error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: spec.%s: %s", ErrInvalid, field, fmt.Sprintf(format, args...)))
	}
	if w.Pool == "" {
		bad("pool", "is empty")
	} else if len(poolNodes) == 0 {
		bad("pool", "pool %q has no nodes", w.Pool)
	}
	for i, id := range w.Nodes {
		if !slices.Contains(poolNodes, id) {
			bad(fmt.Sprintf("nodes[%d]", i), "%q is not a node of pool %q", id, w.Pool)
		}
	}
	if len(w.Tasks) == 0 {
		bad("tasks", "is empty: give at least one of restart, cleanup, deploy, backup, custom")
	}
	for i, t := range w.Tasks {
		switch t.Kind {
		case TaskRestart, TaskCleanup, TaskBackup, TaskDeploy, TaskCustom:
		default:
			bad(fmt.Sprintf("tasks[%d].kind", i), "%q is not restart, cleanup, deploy, backup or custom", t.Kind)
			continue
		}
		if (t.Kind == TaskDeploy) != (t.Version != "") {
			bad(fmt.Sprintf("tasks[%d].version", i), "a deploy task needs the version, and only a deploy task takes one")
		}
		if (t.Kind == TaskCustom) != (t.Action != "") {
			bad(fmt.Sprintf("tasks[%d].action", i), "a custom task needs the action's name, and only a custom task takes one")
		}
	}
	recurring := w.Cron != ""
	switch {
	case recurring && w.CronError != nil:
		bad("cron", "%q does not parse: %v", w.Cron, w.CronError)
	case recurring && (!w.Start.IsZero() || !w.End.IsZero()):
		bad("cron", "a recurring window has no start or end: its openings come from the cron spec")
	case recurring && (w.Duration <= 0 || w.Duration > MaxWait):
		bad("duration", "%s must be positive and at most %s for a recurring window", w.Duration, MaxWait)
	case recurring && w.Schedule != nil && w.Schedule.Next(now).IsZero():
		bad("cron", "%q never fires", w.Cron)
	case !recurring && w.Duration != 0:
		bad("duration", "only a recurring window (cron) has a duration; give a one-off window an end")
	case !recurring && !w.End.IsZero() && !w.End.After(w.Start) && !w.Start.IsZero():
		bad("end", "%s is not after the start %s", w.End.Format(time.RFC3339), w.Start.Format(time.RFC3339))
	case !recurring && !w.End.IsZero() && !w.End.After(now):
		bad("end", "%s is in the past", w.End.Format(time.RFC3339))
	}
	if w.MaxUnavailable < 1 {
		bad("max_unavailable", "%d must be at least 1", w.MaxUnavailable)
	}
	if w.MinHealthy < 0 || len(poolNodes) > 0 && w.MinHealthy >= len(poolNodes) {
		bad("min_healthy", "%d must be below the pool's %d nodes, or no node could ever be taken", w.MinHealthy, len(poolNodes))
	}
	if w.DrainTimeout <= 0 || w.DrainTimeout > MaxWait {
		bad("drain_timeout", "%s must be positive and at most %s", w.DrainTimeout, MaxWait)
	}
	return errors.Join(errs...)
}

// Opening returns the window's first opening at or after after: when it opens, and when it
// takes no new node (zero: no limit). ok is false when it never opens again. A recurring
// window's times are in UTC.
func (w WindowSpec) Opening(after time.Time) (opens, closes time.Time, ok bool) {
	if w.Cron == "" {
		opens = w.Start
		if opens.IsZero() || opens.Before(after) {
			opens = after
		}
		if !w.End.IsZero() && !opens.Before(w.End) {
			return time.Time{}, time.Time{}, false
		}
		return opens, w.End, true
	}
	if w.Schedule == nil {
		return time.Time{}, time.Time{}, false
	}
	// The spec is read in UTC: a schedule computes in the time's zone, so the time is given in
	// UTC whatever zone the caller's clock is in.
	opens = w.Schedule.Next(after.UTC().Add(-time.Nanosecond))
	if opens.IsZero() {
		return time.Time{}, time.Time{}, false
	}
	return opens, opens.Add(w.Duration), true
}

// MayTake returns how many more nodes a window may take out of routing now: one at a time up
// to maxUnavailable nodes of the pool out of routing (nodes already down or drained count),
// and never so many that fewer than minHealthy ready nodes stay in routing.
func MayTake(pending, unavailable, readyInRouting, maxUnavailable, minHealthy int) int {
	return max(0, min(pending, maxUnavailable-unavailable, readyInRouting-minHealthy))
}
