package main

import (
	"fmt"
	"strings"

	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// stateName returns the short lower-case name of s, e.g. "ready" for NODE_STATE_READY.
func stateName(s fleetv1.NodeState) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "NODE_STATE_"))
}

// eventName returns the short lower-case name of t, e.g. "state_changed".
func eventName(t fleetv1.NodeEventType) string {
	return strings.ToLower(strings.TrimPrefix(t.String(), "NODE_EVENT_TYPE_"))
}

// stateNames returns the short names of the node states an operator can filter on, in the
// order the API declares them.
func stateNames() []string {
	values := fleetv1.NodeState(0).Descriptor().Values()
	var names []string
	for i := range values.Len() {
		if s := fleetv1.NodeState(values.Get(i).Number()); s != fleetv1.NodeState_NODE_STATE_UNSPECIFIED {
			names = append(names, stateName(s))
		}
	}
	return names
}

// parseState parses a short state name such as "ready" or "Down", ignoring case.
func parseState(name string) (fleetv1.NodeState, error) {
	full := "NODE_STATE_" + strings.ToUpper(name)
	if v, ok := fleetv1.NodeState_value[full]; ok && v != int32(fleetv1.NodeState_NODE_STATE_UNSPECIFIED) {
		return fleetv1.NodeState(v), nil
	}
	return 0, fmt.Errorf("unknown state %q (valid: %s)", name, strings.Join(stateNames(), ", "))
}
