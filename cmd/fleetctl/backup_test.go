package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dspyfleet/dspyfleet/controlplane/store"
	"github.com/dspyfleet/dspyfleet/internal/fleettest"
)

func TestBackupCommandsAgainstControlPlane(t *testing.T) {
	cfg := fleettest.FastConfig(t)
	cfg.BackupKeep = 2
	cp := fleettest.StartControlPlane(t, cfg)
	t.Setenv("DSPYFLEET_ADDR", cp.GRPCAddr())
	ctx := context.Background()
	fleetctl := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := run(ctx, args, &out, &errOut)
		return code, out.String(), errOut.String()
	}

	if code, out, _ := fleetctl("backup", "list"); code != exitOK || !strings.Contains(out, "no control-plane backups yet") {
		t.Fatalf("list with no backups: %d %q", code, out)
	}
	var names []string
	for range 3 {
		code, out, errOut := fleetctl("backup", "create", "--reason", "before upgrade")
		if code != exitOK || !strings.Contains(out, "before upgrade") {
			t.Fatalf("backup create: %d %q %q", code, out, errOut)
		}
		names = append(names, strings.Fields(strings.Split(out, "\n")[1])[0])
	}
	code, out, _ := fleetctl("backup", "list")
	if code != exitOK || strings.Contains(out, names[0]) || !strings.Contains(out, names[1]) || !strings.Contains(out, names[2]) {
		t.Fatalf("list after 3 backups with keep 2 should show the newest two of %v:\n%s", names, out)
	}
	if code, out, errOut := fleetctl("backup", "verify", names[2]); code != exitOK || !strings.Contains(out, fmt.Sprintf("is sound: schema %d", store.SchemaVersion)) {
		t.Fatalf("verify: %d %q %q", code, out, errOut)
	}
	path := filepath.Join(cfg.DataDir, "backups", names[2])
	if err := os.Truncate(path, 100); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := fleetctl("backup", "verify", names[2]); code != exitError || !strings.Contains(errOut, "DataLoss") || !strings.Contains(errOut, "truncated") {
		t.Fatalf("verify of a truncated backup: %d %q", code, errOut)
	}
	if code, _, errOut := fleetctl("backup", "verify"); code != exitUsage || !strings.Contains(errOut, "backup name") {
		t.Fatalf("verify without a name: %d %q", code, errOut)
	}
	if code, _, errOut := fleetctl("backup", "restore"); code != exitUsage || !strings.Contains(errOut, `unknown command "restore"`) {
		t.Fatalf("unknown subcommand: %d %q", code, errOut)
	}
}
