package main

import (
	"slices"
	"testing"

	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

func TestParseCommandState(t *testing.T) {
	const valid = "pending, sent, accepted, running, succeeded, failed, expired, cancelled, held"
	if got := commandStateNames(); !slices.Equal(got, []string{"pending", "sent", "accepted", "running", "succeeded", "failed", "expired", "cancelled", "held"}) {
		t.Errorf("commandStateNames() = %v", got)
	}
	for v := range fleetv1.CommandState_name {
		s := fleetv1.CommandState(v)
		if s == fleetv1.CommandState_COMMAND_STATE_UNSPECIFIED {
			continue
		}
		if got, err := parseCommandState(commandStateName(s)); err != nil || got != s {
			t.Errorf("parseCommandState(%q) = %v, %v, want %v", commandStateName(s), got, err, s)
		}
	}
	if got, err := parseCommandState("Succeeded"); err != nil || got != fleetv1.CommandState_COMMAND_STATE_SUCCEEDED {
		t.Errorf("parseCommandState(Succeeded) = %v, %v", got, err)
	}
	for _, bad := range []string{"", "unspecified", "COMMAND_STATE_FAILED", "done", " failed"} {
		want := `unknown command state "` + bad + `" (valid: ` + valid + `)`
		if _, err := parseCommandState(bad); err == nil || err.Error() != want {
			t.Errorf("parseCommandState(%q) err = %v, want %s", bad, err, want)
		}
	}
}

func TestParseKind(t *testing.T) {
	const valid = "drain, undrain, restart, cleanup, backup, deploy, scale, custom"
	for v := range fleetv1.CommandKind_name {
		k := fleetv1.CommandKind(v)
		if k == fleetv1.CommandKind_COMMAND_KIND_UNSPECIFIED {
			continue
		}
		if got, err := parseKind(kindName(k)); err != nil || got != k {
			t.Errorf("parseKind(%q) = %v, %v, want %v", kindName(k), got, err, k)
		}
	}
	if got, err := parseKind("DEPLOY"); err != nil || got != fleetv1.CommandKind_COMMAND_KIND_DEPLOY {
		t.Errorf("parseKind(DEPLOY) = %v, %v", got, err)
	}
	for _, bad := range []string{"", "unspecified", "COMMAND_KIND_SCALE", "reboot"} {
		want := `unknown command kind "` + bad + `" (valid: ` + valid + `)`
		if _, err := parseKind(bad); err == nil || err.Error() != want {
			t.Errorf("parseKind(%q) err = %v, want %s", bad, err, want)
		}
	}
}

// TestColumnWidths checks that the names fit the columns writeCommandEvent pads to.
func TestColumnWidths(t *testing.T) {
	for _, k := range kindNames() {
		if len(k) > 7 {
			t.Errorf("kind %q is longer than 7", k)
		}
	}
	for _, s := range commandStateNames() {
		if len(s) > 9 {
			t.Errorf("state %q is longer than 9", s)
		}
	}
}
