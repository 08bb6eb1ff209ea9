package fleet

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/dspyfleet/dspyfleet/controlplane/check"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// Interruption is what the registry knows of a node reclaimed by its cloud.
type Interruption struct {
	Pool     string
	Capacity fleetv1.CapacityType
	// First is true for the first notice of the node; a notice the agent sends again on a later
	// session changes nothing.
	First bool
}

// Interrupt records session s's interruption notice: the node leaves routing at once (draining,
// as an operator's drain does) and remembers the notice. The caller queues the drain command and
// asks the scaler for a replacement when First is set.
func (r *Registry) Interrupt(s *Session, n *fleetv1.InterruptionNotice) (Interruption, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.nodes[s.NodeID]
	if e == nil || e.sess != s {
		return Interruption{}, fmt.Errorf("%w: session of node %q is no longer current", check.ErrSessionEnded, s.NodeID)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	now := r.now()
	e.lastSeen = now
	e.downAfter = r.liveness.downAfter(now, e.node.GetReportInterval().AsDuration())
	out := Interruption{Pool: e.node.GetPool(), Capacity: e.node.GetCapacityType()}
	if e.node.GetInterruption() != nil {
		return out, nil
	}
	out.First = true
	e.node.Interruption = proto.Clone(n).(*fleetv1.InterruptionNotice)
	e.node.DrainRequested = true
	r.dirty[s.NodeID] = struct{}{}
	r.publishLocked(fleetv1.NodeEventType_NODE_EVENT_TYPE_UPDATED, e, fleetv1.NodeState_NODE_STATE_UNSPECIFIED)
	reason := fmt.Sprintf("interruption notice from %s: the host is reclaimed at %s (in %s)", n.GetSource(),
		n.GetDeadline().AsTime().UTC().Format(time.RFC3339), n.GetDeadline().AsTime().Sub(now).Round(time.Second))
	r.setStateLocked(e, connectedState(e.node, nil), reason, now)
	return out, nil
}
