package commands

import (
	"context"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dspyfleet/dspyfleet/pkg/maintenance"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// Holder decides whether a new command for nodeID waits for a maintenance window of the node's
// pool (maintenance.Windows.HoldFor wires maintenance.HoldFor).
type Holder func(nodeID string, kind fleetv1.CommandKind, params map[string]string, now time.Time) maintenance.Hold

// Gate says how a new command meets the maintenance windows of its node's pool.
type Gate int

// The gates.
const (
	// Ungated commands are never held: a window's, a deployment's and the drains' own
	// commands, which Create queues.
	Ungated Gate = iota
	// HeldByWindow commands are held (COMMAND_STATE_HELD) when the Holder says so, and
	// delivered at the window's opening.
	HeldByWindow
	// OverrideWindow commands are sent at once; when a window would have held one, its record
	// says the window was overridden (window_overridden).
	OverrideWindow
)

// SetHolder sets the decision Submit and Release consult; nil holds nothing. Call it before
// the queue is used.
func (q *Queue) SetHolder(h Holder) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.holder = h
}

// Submit queues a command through gate: held until its node's pool's maintenance window opens
// when the gate and the Holder say so, otherwise at once. It returns the record and the hold
// that applies to the command (for OverrideWindow, the one it overrode; zero when none).
func (q *Queue) Submit(ctx context.Context, nodeID string, kind fleetv1.CommandKind, params map[string]string, timeout time.Duration, requestedBy, reason string, gate Gate) (*fleetv1.CommandRecord, maintenance.Hold, error) {
	var hold maintenance.Hold
	q.mu.Lock()
	holder := q.holder
	q.mu.Unlock()
	if gate != Ungated && holder != nil {
		hold = holder(nodeID, kind, params, q.now())
	}
	rec, err := q.createCtx(ctx, nodeID, kind, params, timeout, requestedBy, reason, hold, gate == OverrideWindow)
	return rec, hold, err
}

// holdRecord applies hold to a new record: held (delivered at the opening, the deadline moved
// by as long) or, when overridden, marked as sent at once outside the window.
func holdRecord(rec *fleetv1.CommandRecord, hold maintenance.Hold, override bool, now time.Time, timeout time.Duration) {
	if !hold.Held() {
		return
	}
	if override {
		rec.WindowOverridden = true
		rec.Detail = "queued at once, overriding maintenance window " + hold.Window + " of pool " + hold.Pool + ", which next opens " + hold.Until.UTC().Format(time.RFC3339)
		rec.History[0].Detail = rec.Detail
		return
	}
	rec.State, rec.Detail = fleetv1.CommandState_COMMAND_STATE_HELD, hold.Reason()
	rec.HeldUntil, rec.HeldWindow = timestamppb.New(hold.Until), hold.Window
	rec.History[0] = &fleetv1.CommandTransition{State: rec.State, Time: timestamppb.New(now), Detail: rec.Detail}
	rec.Command.Deadline = timestamppb.New(hold.Until.Add(timeout))
}

// heldCommand is what Release decides a held command on.
type heldCommand struct {
	e      *cmdEntry
	node   string
	kind   fleetv1.CommandKind
	params map[string]string
	until  time.Time
	window string
}

// Release delivers the held commands whose window opened: those past held_until, and those no
// window holds any more (it was cancelled, or another window covering the node is open). A
// held command whose window moved its next opening keeps waiting for the new one.
func (q *Queue) Release() {
	now := q.now()
	q.mu.Lock()
	holder := q.holder
	var held []heldCommand
	for _, e := range q.byID {
		if e.rec.GetState() == fleetv1.CommandState_COMMAND_STATE_HELD {
			held = append(held, heldCommand{e: e, node: e.rec.GetNodeId(), kind: e.rec.GetCommand().GetKind(),
				params: e.rec.GetCommand().GetParams(), until: e.rec.GetHeldUntil().AsTime(), window: e.rec.GetHeldWindow()})
		}
	}
	q.mu.Unlock()
	for _, h := range held {
		detail := "released: maintenance window " + h.window + " opened"
		if now.Before(h.until) {
			if holder == nil {
				continue
			}
			next := holder(h.node, h.kind, h.params, now)
			switch {
			case !next.Held():
				detail = "released: no maintenance window holds it any more (window " + h.window + " cancelled or ended, or another window is open)"
			case next.Until.Equal(h.until) && next.Window == h.window:
				continue
			default:
				q.rehold(h.e, next)
				continue
			}
		}
		q.release(h.e, detail, now)
	}
}

// release moves a held command to pending and wakes its node's session.
func (q *Queue) release(e *cmdEntry, detail string, now time.Time) {
	q.mu.Lock()
	if e.rec.GetState() != fleetv1.CommandState_COMMAND_STATE_HELD {
		q.mu.Unlock()
		return
	}
	q.transitionLocked(e, fleetv1.CommandState_COMMAND_STATE_PENDING, detail, now)
	q.wakeLocked(e.rec.GetNodeId())
	q.mu.Unlock()
	_ = q.persist(e)
}

// rehold moves a held command's wait to a window's new next opening.
func (q *Queue) rehold(e *cmdEntry, next maintenance.Hold) {
	q.mu.Lock()
	if e.rec.GetState() != fleetv1.CommandState_COMMAND_STATE_HELD {
		q.mu.Unlock()
		return
	}
	timeout := e.rec.GetCommand().GetDeadline().AsTime().Sub(e.rec.GetHeldUntil().AsTime())
	e.rec.HeldUntil, e.rec.HeldWindow, e.rec.Detail = timestamppb.New(next.Until), next.Window, next.Reason()
	e.rec.Command.Deadline = timestamppb.New(next.Until.Add(timeout))
	e.rec.Updated = timestamppb.New(q.now())
	q.publishLocked(e)
	q.mu.Unlock()
	_ = q.persist(e)
}
