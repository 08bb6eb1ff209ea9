package main

import (
	"testing"

	"github.com/dspyfleet/dspyfleet/controlplane"
	"github.com/dspyfleet/dspyfleet/internal/cli"
)

// TestShippedConfig checks the default config file the package installs with the real parser.
func TestShippedConfig(t *testing.T) {
	f, err := controlplane.ReadFile("../../deploy/config/controlplane.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if f.Profile() != cli.Production {
		t.Fatalf("profile %q", f.Profile())
	}
	base := controlplane.ProfileConfig(f.Profile())
	if err := f.Check(base); err != nil {
		t.Fatal(err)
	}
	f.Apply(&base)
	if base.DataDir != "/var/lib/dspyfleet" {
		t.Fatalf("data dir %q, want the unit's StateDirectory", base.DataDir)
	}
}
