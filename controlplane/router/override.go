package router

import (
	"maps"
	"slices"

	"github.com/dspyfleet/dspyfleet/pkg/routing"
)

// RouteOverride is a deployment's change to one node's routing: held out of routing with a
// reason, or given a weight (a canary's traffic share).
type RouteOverride struct {
	// HoldOut, when set, takes the node out of routing; it is the state routing reports, e.g.
	// "held out by deployment 0187…".
	HoldOut string
	// Weight, when positive, replaces the node's configured weight.
	Weight float64
}

// SetOverrides replaces every routing override owner holds with o (none when o is empty) and
// applies them to the pools at once, so a change of many nodes (a blue-green switch) is one
// routing update.
func (rt *Router) SetOverrides(owner string, o map[string]RouteOverride) {
	rt.mu.Lock()
	if rt.overrides == nil {
		rt.overrides = make(map[string]map[string]RouteOverride)
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
func (rt *Router) applyOverridesLocked(pools map[string][]routing.Node) {
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
				if o.Weight > 0 {
					n.Weight = o.Weight
				}
				if o.HoldOut != "" && n.Ready {
					n.Ready, n.Counted, n.State = false, false, o.HoldOut
				}
			}
		}
	}
}
