package nodegc

import (
	"fmt"
	"time"
)

// Policy holds the windows after which a node is forgotten; a zero window turns its rule off.
type Policy struct {
	// Down is how long a node may stay down before it is removed (--node-gc).
	Down time.Duration
	// Unready is how long a node never seen ready may stay gone (not connected) before it is
	// removed (--node-gc-unready).
	Unready time.Duration
}

// Validate reports each negative window, naming its flag.
func (p Policy) Validate() []error {
	var errs []error
	if p.Down < 0 {
		errs = append(errs, fmt.Errorf("--node-gc %s must not be negative (0 turns it off)", p.Down))
	}
	if p.Unready < 0 {
		errs = append(errs, fmt.Errorf("--node-gc-unready %s must not be negative (0 turns it off)", p.Unready))
	}
	return errs
}

// Node is what the decision reads of one node.
type Node struct {
	ID string
	// Connected is whether the node has a live agent session (or a connected state).
	Connected bool
	// Down is whether the node is in the down state.
	Down bool
	// EverReady is whether the node was ever seen ready (it reported while serving).
	EverReady bool
	// FirstSeen, LastSeen and StateSince are when the node was first seen, last heard from,
	// and entered its current state; zero when unknown.
	FirstSeen, LastSeen, StateSince time.Time
}

// Reason says why a node is removed; it is the reason label of dspyfleet_nodes_removed_total.
type Reason string

// The reasons a node is removed.
const (
	// ReasonNeverReady: never seen ready and not connected for longer than Policy.Unready.
	ReasonNeverReady Reason = "never_ready"
	// ReasonDown: down for longer than Policy.Down.
	ReasonDown Reason = "down"
)

// Removal is one node to remove and why.
type Removal struct {
	ID     string
	Reason Reason
	// Detail explains the removal in words an operator can act on, for the audit trail.
	Detail string
}

// Decide returns the nodes of nodes to remove at now, in the order given.
func (p Policy) Decide(nodes []Node, now time.Time) []Removal {
	var out []Removal
	for _, n := range nodes {
		if r, ok := p.Check(n, now); ok {
			out = append(out, r)
		}
	}
	return out
}

// Check reports whether n is to be removed at now, and why. A connected node, and a node whose
// times are all unknown, are kept. A node's idle time counts from the latest of its first seen,
// last seen and state times, so a node that just reconnected and left again starts over. A node
// that both rules remove is removed as never ready.
func (p Policy) Check(n Node, now time.Time) (Removal, bool) {
	if n.Connected {
		return Removal{}, false
	}
	since := latest(n.FirstSeen, n.LastSeen, n.StateSince)
	if since.IsZero() {
		return Removal{}, false
	}
	idle := now.Sub(since)
	if p.Unready > 0 && !n.EverReady && idle > p.Unready {
		return Removal{ID: n.ID, Reason: ReasonNeverReady, Detail: fmt.Sprintf(
			"never seen ready and not connected for %s (--node-gc-unready %s); an agent that connects with this id registers it again",
			idle.Round(time.Second), p.Unready)}, true
	}
	if p.Down > 0 && n.Down && idle > p.Down {
		return Removal{ID: n.ID, Reason: ReasonDown, Detail: fmt.Sprintf(
			"down for %s (--node-gc %s); an agent that connects with this id registers it again",
			idle.Round(time.Second), p.Down)}, true
	}
	return Removal{}, false
}

// latest returns the latest of ts; zero when all are zero.
func latest(ts ...time.Time) time.Time {
	var l time.Time
	for _, t := range ts {
		if t.After(l) {
			l = t
		}
	}
	return l
}
