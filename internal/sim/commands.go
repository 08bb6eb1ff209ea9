package sim

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// command answers a pushed command as a real agent does: accepted and running at once, then
// succeeded after the kind's simulated delay. A command delivered again is answered from what
// the agent remembers, never run twice; one past its deadline fails.
func (a *Agent) command(c *fleetv1.Command) {
	a.mu.Lock()
	defer a.mu.Unlock()
	id := c.GetId()
	if done, ok := a.finished[id]; ok {
		a.queueLocked(done)
		return
	}
	if a.running[id] {
		return
	}
	a.commandSeq = max(a.commandSeq, c.GetSeq())
	if d := c.GetDeadline(); d != nil && time.Now().After(d.AsTime()) {
		a.finishLocked(id, fleetv1.CommandState_COMMAND_STATE_FAILED, "deadline passed before the command started", nil)
		return
	}
	a.running[id] = true
	a.queueLocked(update(id, fleetv1.CommandState_COMMAND_STATE_ACCEPTED, "", nil))
	a.queueLocked(update(id, fleetv1.CommandState_COMMAND_STATE_RUNNING, "", nil))
	delay := a.cfg.Delays[c.GetKind()]
	if delay <= 0 {
		a.runLocked(c)
		return
	}
	time.AfterFunc(delay, func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		a.runLocked(c)
	})
}

// runLocked ends a running command with its simulated effect.
func (a *Agent) runLocked(c *fleetv1.Command) {
	kind := c.GetKind()
	fields := map[string]string{"simulated": "true"}
	detail := ""
	switch kind {
	case fleetv1.CommandKind_COMMAND_KIND_DRAIN:
		a.draining = true
		detail = "drained: no request in flight"
	case fleetv1.CommandKind_COMMAND_KIND_UNDRAIN:
		a.draining = false
		detail = "accepting requests"
	case fleetv1.CommandKind_COMMAND_KIND_RESTART:
		detail = "service restarted and healthy"
	case fleetv1.CommandKind_COMMAND_KIND_CLEANUP:
		fields["bytes_freed"] = fmt.Sprint(a.rng.IntN(1 << 30))
		detail = "cleaned"
	case fleetv1.CommandKind_COMMAND_KIND_BACKUP:
		fields["archive"] = fmt.Sprintf("/var/backups/dspyfleet/%s-%s.tar.gz", a.cfg.NodeID, c.GetId())
		detail = "backed up"
	case fleetv1.CommandKind_COMMAND_KIND_DEPLOY:
		fields["version"] = c.GetParams()["version"]
		detail = "deployed"
	case fleetv1.CommandKind_COMMAND_KIND_SCALE:
		detail = "scaled"
	default:
		a.finishLocked(c.GetId(), fleetv1.CommandState_COMMAND_STATE_FAILED, fmt.Sprintf("command kind %s is not an action of this agent", kind), nil)
		return
	}
	a.executed[kind]++
	a.finishLocked(c.GetId(), fleetv1.CommandState_COMMAND_STATE_SUCCEEDED, detail, fields)
}

// finishLocked records a command's final state and queues it.
func (a *Agent) finishLocked(id string, state fleetv1.CommandState, detail string, fields map[string]string) {
	u := update(id, state, detail, fields)
	delete(a.running, id)
	a.finished[id] = u
	a.queueLocked(u)
}

func update(id string, state fleetv1.CommandState, detail string, fields map[string]string) *fleetv1.CommandUpdate {
	return &fleetv1.CommandUpdate{Id: id, State: state, Detail: detail, Fields: fields, Time: timestamppb.Now()}
}

// queueLocked hands an update to the sender.
func (a *Agent) queueLocked(u *fleetv1.CommandUpdate) {
	a.pending = append(a.pending, u)
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// takePending returns the queued updates, oldest first.
func (a *Agent) takePending() []*fleetv1.CommandUpdate {
	a.mu.Lock()
	defer a.mu.Unlock()
	p := a.pending
	a.pending = nil
	return p
}

// requeue puts back updates a failed send did not deliver, ahead of newer ones.
func (a *Agent) requeue(us []*fleetv1.CommandUpdate) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.pending = append(append([]*fleetv1.CommandUpdate(nil), us...), a.pending...)
}
