package fleet

import (
	"fmt"

	"github.com/dspyfleet/dspyfleet/controlplane/check"
)

// HoldForRestart takes a node out of routing while restart command cmdID runs on it: the node
// drains (its in-flight requests finish, nothing new is picked), the agent restarts the service,
// and ReleaseRestart returns it. A node an operator already drained keeps that drain and gets no
// hold; the hold is kept in the node's record, so it outlives a control-plane restart.
func (r *Registry) HoldForRestart(id, cmdID string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.nodes[id]
	if e == nil {
		return fmt.Errorf("%w: no node with id %q", check.ErrNodeNotFound, id)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.node.GetDrainRequested() {
		return nil
	}
	e.node.DrainRequested, e.node.RestartHold = true, cmdID
	r.dirty[id] = struct{}{}
	if Connected(e.node.GetState()) {
		r.setStateLocked(e, connectedState(e.node, nil), fmt.Sprintf("restart %s: draining before the service restarts", cmdID), r.now())
	}
	return nil
}

// ReleaseRestart ends restart cmdID's hold on a node, if it still holds it (an operator's drain
// or undrain meanwhile replaced it), and returns the node to routing with outcome as the reason.
func (r *Registry) ReleaseRestart(id, cmdID, outcome string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.nodes[id]
	if e == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.node.GetRestartHold() != cmdID || cmdID == "" {
		return
	}
	e.node.DrainRequested, e.node.Drained, e.node.RestartHold = false, false, ""
	r.dirty[id] = struct{}{}
	if Connected(e.node.GetState()) {
		r.setStateLocked(e, connectedState(e.node, nil), fmt.Sprintf("restart %s finished: %s", cmdID, outcome), r.now())
	}
}
