package main

import (
	"slices"
	"strings"
	"testing"

	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

func TestParseState(t *testing.T) {
	tests := []struct {
		in      string
		want    fleetv1.NodeState
		wantErr bool
	}{
		{in: "ready", want: fleetv1.NodeState_NODE_STATE_READY},
		{in: "Draining", want: fleetv1.NodeState_NODE_STATE_DRAINING},
		{in: "DRAINED", want: fleetv1.NodeState_NODE_STATE_DRAINED},
		{in: "disconnected", want: fleetv1.NodeState_NODE_STATE_DISCONNECTED},
		{in: "down", want: fleetv1.NodeState_NODE_STATE_DOWN},
		{in: "unhealthy", want: fleetv1.NodeState_NODE_STATE_UNHEALTHY},
		{in: "unspecified", wantErr: true},
		{in: "NODE_STATE_READY", wantErr: true},
		{in: "node_state_ready", wantErr: true},
		{in: "rdy", wantErr: true},
		{in: "", wantErr: true},
		{in: " ready", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseState(tt.in)
			if tt.wantErr {
				want := `unknown state "` + tt.in + `" (valid: ready, draining, drained, disconnected, down, unhealthy)`
				if err == nil || err.Error() != want {
					t.Errorf("err = %v, want %s", err, want)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("parseState(%q) = %v, %v, want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

// TestStateNamesRoundTrip checks that every state the API declares has a name parseState takes
// back, and that names carry neither the enum prefix nor upper case.
func TestStateNamesRoundTrip(t *testing.T) {
	names := stateNames()
	if want := []string{"ready", "draining", "drained", "disconnected", "down", "unhealthy"}; !slices.Equal(names, want) {
		t.Errorf("stateNames() = %v, want %v", names, want)
	}
	for v, full := range fleetv1.NodeState_name {
		s := fleetv1.NodeState(v)
		name := stateName(s)
		if name != strings.ToLower(strings.TrimPrefix(full, "NODE_STATE_")) {
			t.Errorf("stateName(%s) = %q", full, name)
		}
		if s == fleetv1.NodeState_NODE_STATE_UNSPECIFIED {
			continue
		}
		if got, err := parseState(name); err != nil || got != s {
			t.Errorf("parseState(%q) = %v, %v, want %v", name, got, err, s)
		}
	}
}

func TestEventName(t *testing.T) {
	if got := eventName(fleetv1.NodeEventType_NODE_EVENT_TYPE_STATE_CHANGED); got != "state_changed" {
		t.Errorf("eventName(STATE_CHANGED) = %q", got)
	}
	// 13 columns in writeEvent hold the longest name.
	for _, full := range fleetv1.NodeEventType_name {
		if name := eventName(fleetv1.NodeEventType(fleetv1.NodeEventType_value[full])); len(name) > 13 {
			t.Errorf("event type name %q is longer than the 13 columns writeEvent pads to", name)
		}
	}
}
