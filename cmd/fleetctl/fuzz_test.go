package main

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParse checks that no command line makes parse panic, and that every command line it
// refuses gets a usage error with a usage text to print.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"nodes list --state ready,down --label zone=eu",
		"nodes drain web-1 --deadline 5m --reason x",
		"cmd send web-1 deploy --version 1.2.3 --wait --timeout 1m",
		"cmd send web-1 scale --instances -1",
		"cmd send --dry-run web-1 cleanup",
		"cmd list --state failed,expired --kind deploy --limit 3",
		"-o json cmd watch --node web-1",
		"cmd cancel abc --reason",
		"help cmd send",
		"alerts list --state firing",
		"alerts rule set /nonexistent.yaml",
		"alerts test ErrorSpike",
		"alerts silence create --match alertname=~Disk.* --author ops --duration 1h",
		"alerts silence delete abc",
		"-o json alerts deliveries --failed --limit 5",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, line string) {
		cmd, err := parse(newGlobals(), strings.Fields(line))
		var uerr *usageError
		switch {
		case err == nil && cmd == nil:
			t.Fatalf("%q: no command and no error", line)
		case err != nil && (!errors.As(err, &uerr) || uerr.usage == ""):
			t.Fatalf("%q: %v is not a usage error with a usage text", line, err)
		}
	})
}
