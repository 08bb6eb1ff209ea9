package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dspyfleet/dspyfleet/agent"
	"github.com/dspyfleet/dspyfleet/agent/action/backup"
	"github.com/dspyfleet/dspyfleet/internal/fleettest"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// send queues a command and waits for it to reach want.
func send(t *testing.T, c fleetv1.FleetServiceClient, node string, kind fleetv1.CommandKind, params map[string]string, want fleetv1.CommandState) *fleetv1.CommandRecord {
	t.Helper()
	resp, err := c.SendCommand(context.Background(), &fleetv1.SendCommandRequest{NodeId: node, Kind: kind, Params: params})
	if err != nil {
		t.Fatalf("SendCommand %s: %v", kind, err)
	}
	return waitCommand(t, c, resp.GetCommand().GetCommand().GetId(), want, 60*time.Second)
}

// TestConfiguredActionsEndToEnd pushes restart, scale, cleanup and backup through the control
// plane to an agent whose actions come from its configuration: a supervised HTTP server, a
// cleanup root and a backup.
func TestConfiguredActionsEndToEnd(t *testing.T) {
	dir := t.TempDir()
	srv := filepath.Join(dir, "healthsrv")
	if out, err := exec.Command("go", "build", "-o", srv, "github.com/dspyfleet/dspyfleet/agent/service/testdata/healthsrv").CombinedOutput(); err != nil {
		t.Fatalf("build healthsrv: %v\n%s", err, out)
	}
	basePort := fleettest.FreePortRange(t, 2)
	logs := filepath.Join(dir, "logs")
	data := filepath.Join(dir, "data")
	for _, d := range []string{logs, data} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-48 * time.Hour)
	for name, size := range map[string]int{"old-1.log": 1000, "old-2.log": 234, "new.log": 50} {
		p := filepath.Join(logs, name)
		if err := os.WriteFile(p, make([]byte, size), 0o644); err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(name, "old") {
			if err := os.Chtimes(p, old, old); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := os.WriteFile(filepath.Join(data, "program.json"), []byte(`{"demos": 3}`), 0o644); err != nil {
		t.Fatal(err)
	}

	cp := fleettest.StartControlPlane(t, fleettest.FastConfig(t))
	c := cp.Fleet(t)
	startAgentWith(t, cp.GRPCAddr(), "worker", func(cfg *agent.Config) {
		cfg.ActionsConfig = agent.ActionsConfig{
			Service: &agent.ServiceConfig{
				Manager: "process", Command: []string{srv}, BasePort: basePort, StopGrace: 2 * time.Second,
				Health: agent.HealthConfig{URL: "http://127.0.0.1:{port}/healthz", Timeout: 10 * time.Second},
			},
			Cleanup: []agent.CleanupRule{{Root: logs, Patterns: []string{"*.log"}, MaxAge: 24 * time.Hour}},
			Backup:  &agent.BackupConfig{Paths: []string{data}, Dir: filepath.Join(dir, "backups"), Keep: 3},
		}
	})
	waitState(t, c, "worker", ready, 10*time.Second)

	rec := send(t, c, "worker", fleetv1.CommandKind_COMMAND_KIND_RESTART, nil, succeeded)
	if oldPID, newPID := rec.GetFields()["old_pids"], rec.GetFields()["new_pids"]; oldPID == "" || newPID == "" || oldPID == newPID {
		t.Fatalf("restart fields %v: want a new PID", rec.GetFields())
	}

	rec = send(t, c, "worker", fleetv1.CommandKind_COMMAND_KIND_SCALE, map[string]string{"instances": "2"}, succeeded)
	if rec.GetFields()["instances"] != "2" {
		t.Fatalf("scale fields %v", rec.GetFields())
	}

	rec = send(t, c, "worker", fleetv1.CommandKind_COMMAND_KIND_CLEANUP, map[string]string{"dry_run": "true"}, succeeded)
	if rec.GetFields()["bytes_freed"] != "1234" || rec.GetFields()["dry_run"] != "true" {
		t.Fatalf("dry-run cleanup fields %v", rec.GetFields())
	}
	if _, err := os.Stat(filepath.Join(logs, "old-1.log")); err != nil {
		t.Fatal("a dry run deleted a file")
	}
	rec = send(t, c, "worker", fleetv1.CommandKind_COMMAND_KIND_CLEANUP, nil, succeeded)
	if rec.GetFields()["bytes_freed"] != "1234" || rec.GetFields()["files"] != "2" {
		t.Fatalf("cleanup fields %v", rec.GetFields())
	}
	if _, err := os.Stat(filepath.Join(logs, "new.log")); err != nil {
		t.Fatal("cleanup deleted a new file")
	}

	rec = send(t, c, "worker", fleetv1.CommandKind_COMMAND_KIND_BACKUP, nil, succeeded)
	m, err := backup.Verify(rec.GetFields()["archive"])
	if err != nil {
		t.Fatalf("verify %s: %v", rec.GetFields()["archive"], err)
	}
	if len(rec.GetFields()["sha256"]) != 64 || len(m.Files) == 0 {
		t.Fatalf("backup fields %v, manifest %d files", rec.GetFields(), len(m.Files))
	}

	rec = send(t, c, "worker", fleetv1.CommandKind_COMMAND_KIND_DEPLOY, map[string]string{"version": "1.0.0"}, failed)
	if !strings.Contains(rec.GetDetail(), "no deploy action is configured") {
		t.Fatalf("deploy detail %q", rec.GetDetail())
	}
}

func TestBadActionConfigRefusedAtStart(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(dir, "link")
	if err := os.Symlink(t.TempDir(), link); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		actions agent.ActionsConfig
		want    string
	}{
		{"symlinked cleanup root", agent.ActionsConfig{Cleanup: []agent.CleanupRule{{Root: link, MaxAge: time.Hour}}}, "actions.cleanup"},
		{"pattern with ..", agent.ActionsConfig{Cleanup: []agent.CleanupRule{{Root: dir, Patterns: []string{"../*"}, MaxAge: time.Hour}}}, ".."},
		{"missing backup path", agent.ActionsConfig{Backup: &agent.BackupConfig{Paths: []string{filepath.Join(dir, "nope")}, Dir: filepath.Join(dir, "b"), Keep: 1}}, "actions.backup"},
		{"unknown manager", agent.ActionsConfig{Service: &agent.ServiceConfig{Manager: "docker"}}, "process or systemd"},
		{"process without command", agent.ActionsConfig{Service: &agent.ServiceConfig{Manager: "process"}}, "actions.service"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := agent.DefaultConfig()
			cfg.NodeID = "n"
			cfg.StateDir = t.TempDir()
			cfg.ActionsConfig = tt.actions
			_, err := agent.New(cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
