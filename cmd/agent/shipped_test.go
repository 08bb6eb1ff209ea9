package main

import (
	"testing"

	"github.com/dspyfleet/dspyfleet/agent"
)

// TestShippedConfig checks the default config file the package installs with the real parser.
func TestShippedConfig(t *testing.T) {
	f, err := agent.ReadFile("../../deploy/config/agent.yaml")
	if err != nil {
		t.Fatal(err)
	}
	base := profileConfig(f.Profile())
	if err := f.Check(base); err != nil {
		t.Fatal(err)
	}
	f.Apply(&base)
	if base.StateDir != "/var/lib/dspyfleet-agent" {
		t.Fatalf("state dir %q, want the unit's StateDirectory", base.StateDir)
	}
}
