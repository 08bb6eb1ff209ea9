package controlplane

import (
	"maps"
	"slices"

	"github.com/dspyfleet/dspyfleet/pkg/routing"
)

// routeOverride is a deployment's change to one node's routing: held out of routing with a
// reason, or given a weight (a canary's traffic share).
type routeOverride struct {
	// holdOut, when set, takes the node out of routing; it is the state routing reports, e.g.
	// "held out by deployment 0187…".
	holdOut string
	// weight, when positive, replaces the node's configured weight.
	weight float64
}

// setOverrides replaces every routing override owner holds with o (none when o is empty) and
// applies them to the pools at once, so a change of many nodes (a blue-green switch) is one
// routing update.
func (rt *router) setOverrides(owner string, o map[string]routeOverride) {
	rt.mu.Lock()
	if rt.overrides == nil {
		rt.overrides = make(map[string]map[string]routeOverride)
	}
	same := maps.Equal(rt.overrides[owner], o)
	if len(o) == 0 {
		delete(rt.overrides, owner)
	} else {
		rt.overrides[owner] = maps.Clone(o)
	}
	rt.mu.Unlock()
	if !same {
		rt.sync()
	}
}

// applyOverridesLocked applies the overrides to the nodes routing is about to see; rt.mu is
// held. Owners are applied in name order, so two owners of one node resolve the same way every
// time: a hold-out wins over a weight.
func (rt *router) applyOverridesLocked(pools map[string][]routing.Node) {
	if len(rt.overrides) == 0 {
		return
	}
	owners := slices.Sorted(maps.Keys(rt.overrides))
	for _, nodes := range pools {
		for i := range nodes {
			n := &nodes[i]
			for _, owner := range owners {
				o, ok := rt.overrides[owner][n.ID]
				if !ok {
					continue
				}
				if o.weight > 0 {
					n.Weight = o.weight
				}
				if o.holdOut != "" && n.Ready {
					n.Ready, n.Counted, n.State = false, false, o.holdOut
				}
			}
		}
	}
}
