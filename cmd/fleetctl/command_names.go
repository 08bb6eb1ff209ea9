package main

import (
	"fmt"
	"strings"

	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// commandStateName returns the short lower-case name of s, e.g. "running" for
// COMMAND_STATE_RUNNING.
func commandStateName(s fleetv1.CommandState) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "COMMAND_STATE_"))
}

// kindName returns the short lower-case name of k, e.g. "deploy" for COMMAND_KIND_DEPLOY.
func kindName(k fleetv1.CommandKind) string {
	return strings.ToLower(strings.TrimPrefix(k.String(), "COMMAND_KIND_"))
}

// commandStateNames returns the short names of the command states, in the order the API
// declares them.
func commandStateNames() []string {
	return enumNames(fleetv1.CommandState(0).Descriptor(), "COMMAND_STATE_")
}

// kindNames returns the short names of the command kinds, in the order the API declares them.
func kindNames() []string {
	return enumNames(fleetv1.CommandKind(0).Descriptor(), "COMMAND_KIND_")
}

// enumNames returns the lower-case names of an enum's values without prefix, leaving out the
// zero value (UNSPECIFIED).
func enumNames(d protoreflect.EnumDescriptor, prefix string) []string {
	values := d.Values()
	var names []string
	for i := range values.Len() {
		if v := values.Get(i); v.Number() != 0 {
			names = append(names, strings.ToLower(strings.TrimPrefix(string(v.Name()), prefix)))
		}
	}
	return names
}

// parseCommandState parses a short command state name such as "failed" or "Running", ignoring
// case.
func parseCommandState(name string) (fleetv1.CommandState, error) {
	if v, ok := fleetv1.CommandState_value["COMMAND_STATE_"+strings.ToUpper(name)]; ok && v != 0 {
		return fleetv1.CommandState(v), nil
	}
	return 0, fmt.Errorf("unknown command state %q (valid: %s)", name, strings.Join(commandStateNames(), ", "))
}

// parseKind parses a short command kind name such as "deploy" or "Restart", ignoring case.
func parseKind(name string) (fleetv1.CommandKind, error) {
	if v, ok := fleetv1.CommandKind_value["COMMAND_KIND_"+strings.ToUpper(name)]; ok && v != 0 {
		return fleetv1.CommandKind(v), nil
	}
	return 0, fmt.Errorf("unknown command kind %q (valid: %s)", name, strings.Join(kindNames(), ", "))
}

// terminal reports whether s ends a command's life.
func terminal(s fleetv1.CommandState) bool {
	switch s {
	case fleetv1.CommandState_COMMAND_STATE_SUCCEEDED, fleetv1.CommandState_COMMAND_STATE_FAILED,
		fleetv1.CommandState_COMMAND_STATE_EXPIRED, fleetv1.CommandState_COMMAND_STATE_CANCELLED:
		return true
	}
	return false
}
