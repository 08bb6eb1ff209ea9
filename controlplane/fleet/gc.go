package fleet

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dspyfleet/dspyfleet/controlplane/check"
	"github.com/dspyfleet/dspyfleet/pkg/nodegc"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// GCNodes returns every node as pkg/nodegc reads it, for the node GC step to decide on.
func (r *Registry) GCNodes() []nodegc.Node {
	var out []nodegc.Node
	r.eachEntry("", func(e *entry) { out = append(out, e.gcNodeLocked()) })
	return out
}

// gcNodeLocked is e as pkg/nodegc reads it; e.mu or the registry lock is held.
func (e *entry) gcNodeLocked() nodegc.Node {
	n := e.node
	return nodegc.Node{
		ID:         n.GetId(),
		Connected:  e.sess != nil || Connected(n.GetState()),
		Down:       n.GetState() == fleetv1.NodeState_NODE_STATE_DOWN,
		EverReady:  !e.lastReady.IsZero(),
		FirstSeen:  timeOf(n.GetFirstSeen()),
		LastSeen:   e.lastSeen,
		StateSince: timeOf(n.GetStateSince()),
	}
}

// timeOf is ts as a time, zero when ts is absent.
func timeOf(ts *timestamppb.Timestamp) time.Time {
	if ts == nil {
		return time.Time{}
	}
	return ts.AsTime()
}

// loadedLastReady is when a node loaded from the store was last seen ready. A record stored
// before last_ready existed counts as ready at its last contact if it ever reported.
func loadedLastReady(n *fleetv1.Node) time.Time {
	if t := timeOf(n.GetLastReady()); !t.IsZero() || n.GetReportsReceived() == 0 {
		return t
	}
	return timeOf(n.GetLastSeen())
}

// Remove forgets node id if p still removes it at now: the decision is checked again under the
// locks, so a node that reconnected since it was made (or any node with a live session) is
// kept, with an error wrapping check.ErrFailedPrecondition. A removed node is published as
// NODE_EVENT_TYPE_REMOVED, deleted from the store at the next flush, and registered anew if
// its agent connects again.
func (r *Registry) Remove(id string, p nodegc.Policy, now time.Time) (nodegc.Removal, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.nodes[id]
	if e == nil {
		return nodegc.Removal{}, fmt.Errorf("%w: no node with id %q", check.ErrNodeNotFound, id)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	rm, ok := p.Check(e.gcNodeLocked(), now)
	if !ok {
		return nodegc.Removal{}, fmt.Errorf("%w: node %q is kept: it is %s since %s", check.ErrFailedPrecondition,
			id, StateName(e.node.GetState()), timeOf(e.node.GetStateSince()).Format(time.RFC3339))
	}
	r.publishLocked(fleetv1.NodeEventType_NODE_EVENT_TYPE_REMOVED, e, fleetv1.NodeState_NODE_STATE_UNSPECIFIED)
	delete(r.nodes, id)
	if m := r.byPool[e.node.GetPool()]; m != nil {
		delete(m, id)
		if len(m) == 0 {
			delete(r.byPool, e.node.GetPool())
		}
	}
	r.dirty[id] = struct{}{}
	select {
	case r.flushNow <- struct{}{}:
	default:
	}
	return rm, nil
}
