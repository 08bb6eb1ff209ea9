package e2e

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dspyfleet/dspyfleet/agent"
	"github.com/dspyfleet/dspyfleet/internal/fleettest"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// TestBackupListLeavesOutPrunedArchives: `fleetctl backup list` listed archives the agent had
// already pruned. The agent reports what is left after pruning, and the list shows only that.
func TestBackupListLeavesOutPrunedArchives(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "program.json"), []byte(`{"demos": []}`), 0o600); err != nil {
		t.Fatal(err)
	}
	cp := fleettest.StartControlPlane(t, fleettest.FastConfig(t))
	conn := fleettest.Dial(t, cp.GRPCAddr())
	c := fleetv1.NewFleetServiceClient(conn)
	mc := fleetv1.NewMaintenanceServiceClient(conn)
	startAgentWith(t, cp.GRPCAddr(), "web-1", func(cfg *agent.Config) {
		cfg.ActionsConfig = agent.ActionsConfig{Backup: &agent.BackupConfig{Paths: []string{data}, Dir: filepath.Join(dir, "backups"), Keep: 2}}
	})
	waitState(t, c, "web-1", ready, 10*time.Second)

	var archives []string
	for range 3 {
		resp, err := c.SendCommand(context.Background(), &fleetv1.SendCommandRequest{NodeId: "web-1", Kind: fleetv1.CommandKind_COMMAND_KIND_BACKUP})
		if err != nil {
			t.Fatal(err)
		}
		rec := waitCommand(t, c, resp.GetCommand().GetCommand().GetId(), succeeded, 30*time.Second)
		archives = append(archives, rec.GetFields()["archive"])
		// Archives are named to the second: the next one needs the next second.
		sent := time.Now().Truncate(time.Second)
		fleettest.Eventually(t, 3*time.Second, "the next second", func() bool { return time.Now().Truncate(time.Second).After(sent) })
	}
	if _, err := os.Stat(archives[0]); !os.IsNotExist(err) {
		t.Fatalf("with keep 2 the first archive should be pruned: %v", err)
	}
	list, err := mc.ListBackups(context.Background(), &fleetv1.ListBackupsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, b := range list.GetAgentBackups() {
		listed = append(listed, b.GetArchive())
	}
	if len(listed) != 2 || listed[0] != archives[2] || listed[1] != archives[1] {
		t.Fatalf("agent backups listed %v; want the two kept, newest first: %v", listed, []string{archives[2], archives[1]})
	}
}
