package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/dspyfleet/dspyfleet/controlplane/maintenance"
	"github.com/dspyfleet/dspyfleet/controlplane/store"
	"github.com/dspyfleet/dspyfleet/internal/fleettest"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// TestBackupWhileAgentsWriteRestores takes backups while agents report and commands change
// state, verifies them, restores the last one into a new data directory and starts a control
// plane on it that knows the same nodes, routing policies and commands.
func TestBackupWhileAgentsWriteRestores(t *testing.T) {
	cfg := fleettest.FastConfig(t)
	cp := fleettest.StartControlPlane(t, cfg)
	conn := fleettest.Dial(t, cp.GRPCAddr())
	fleet := fleetv1.NewFleetServiceClient(conn)
	mc := fleetv1.NewMaintenanceServiceClient(conn)
	rc := fleetv1.NewRoutingServiceClient(conn)
	ctx := context.Background()
	startServingAgents(t, cp.GRPCAddr(), 3)
	for _, id := range []string{"web-1", "web-2", "web-3"} {
		waitState(t, fleet, id, ready, 10*time.Second)
	}
	if _, err := rc.SetPolicy(ctx, &fleetv1.RoutingServiceSetPolicyRequest{Pool: "web",
		Policy: &fleetv1.RoutingPolicy{Strategy: fleetv1.Strategy_STRATEGY_LEAST_CONNECTIONS}}); err != nil {
		t.Fatal(err)
	}

	// Commands go on flowing while the backups are taken.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var done atomic.Int64 // commands that succeeded
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			node := []string{"web-1", "web-2", "web-3"}[i%3]
			send(t, fleet, node, fleetv1.CommandKind_COMMAND_KIND_UNDRAIN, nil, succeeded)
			done.Add(1)
		}
	})
	var last *fleetv1.Backup
	for i := range 4 {
		// Commands are written before each backup, after the one before it: of two commands that
		// finish from now on, the second is sent after the previous backup returned.
		want := done.Load() + 2
		fleettest.Eventually(t, 30*time.Second, fmt.Sprintf("two more commands before backup %d", i+1), func() bool { return done.Load() >= want })
		resp, err := mc.CreateBackup(ctx, &fleetv1.CreateBackupRequest{Reason: "test " + string(rune('a'+i))})
		if err != nil {
			t.Fatal(err)
		}
		last = resp.GetBackup()
	}
	close(stop)
	wg.Wait()

	list, err := mc.ListBackups(ctx, &fleetv1.ListBackupsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.GetBackups()) != 4 || list.GetBackups()[0].GetName() != last.GetName() {
		t.Fatalf("ListBackups = %v, want 4, newest %s first", list.GetBackups(), last.GetName())
	}
	v, err := mc.VerifyBackup(ctx, &fleetv1.VerifyBackupRequest{Name: last.GetName()})
	if err != nil {
		t.Fatalf("VerifyBackup: %v", err)
	}
	b := v.GetBackup()
	if b.GetNodes() != 3 || b.GetRoutingPolicies() != 1 || b.GetCommands() == 0 || len(b.GetSha256()) != 64 ||
		b.GetSchemaVersion() != store.SchemaVersion || !strings.Contains(b.GetReason(), "test d") {
		t.Fatalf("verified backup %v", b)
	}

	resp, err := http.Get("http://" + cp.HTTPAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	scrape, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(scrape), "dspyfleet_backups 4\n") || !strings.Contains(string(scrape), "dspyfleet_backup_last_timestamp_seconds ") {
		t.Errorf("/metrics lacks the backup gauges:\n%s", scrape)
	}

	// The running control plane holds its data dir: a restore there is refused.
	if _, err := maintenance.Restore(b.GetPath(), cfg.DataDir, 100*time.Millisecond, time.Now()); !errors.Is(err, store.ErrDataDirLocked) {
		t.Fatalf("restore over a running control plane: %v, want ErrDataDirLocked", err)
	}

	cmds, err := fleet.ListCommands(ctx, &fleetv1.ListCommandsRequest{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	cp.Stop(t)

	// Restore over the stopped control plane's own dir: the old file is kept aside.
	res, err := maintenance.Restore(b.GetPath(), cfg.DataDir, time.Second, time.Now())
	if err != nil {
		t.Fatalf("restore: %v", err)
	}
	if res.Nodes != 3 || res.Previous == "" {
		t.Fatalf("restore result %+v", res)
	}
	if _, err := os.Stat(res.Previous); err != nil {
		t.Fatalf("the previous state was not kept: %v", err)
	}

	cfg2 := fleettest.FastConfig(t)
	cfg2.DataDir = cfg.DataDir
	cp2 := fleettest.StartControlPlane(t, cfg2)
	conn2 := fleettest.Dial(t, cp2.GRPCAddr())
	nodes, err := fleetv1.NewFleetServiceClient(conn2).ListNodes(ctx, &fleetv1.ListNodesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, n := range nodes.GetNodes() {
		ids = append(ids, n.GetId())
	}
	if !slices.Equal(ids, []string{"web-1", "web-2", "web-3"}) {
		t.Fatalf("restored nodes %v", ids)
	}
	pol, err := fleetv1.NewRoutingServiceClient(conn2).GetPolicy(ctx, &fleetv1.RoutingServiceGetPolicyRequest{Pool: "web"})
	if err != nil || pol.GetPolicy().GetStrategy() != fleetv1.Strategy_STRATEGY_LEAST_CONNECTIONS {
		t.Fatalf("restored policy %v, %v", pol.GetPolicy(), err)
	}
	restored, err := fleetv1.NewFleetServiceClient(conn2).ListCommands(ctx, &fleetv1.ListCommandsRequest{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(restored.GetCommands()) != int(b.GetCommands()) || len(restored.GetCommands()) > len(cmds.GetCommands()) {
		t.Fatalf("restored %d commands, the backup holds %d, the control plane had %d", len(restored.GetCommands()), b.GetCommands(), len(cmds.GetCommands()))
	}
	had := map[string]bool{}
	for _, c := range cmds.GetCommands() {
		had[c.GetCommand().GetId()] = true
	}
	for _, c := range restored.GetCommands() {
		if !had[c.GetCommand().GetId()] {
			t.Fatalf("restored command %s the control plane never had", c.GetCommand().GetId())
		}
	}
}

// TestDamagedBackupRefused truncates a backup and gives one a newer schema: verify and restore
// refuse both, and a backup without its metadata is refused too.
func TestDamagedBackupRefused(t *testing.T) {
	cfg := fleettest.FastConfig(t)
	cp := fleettest.StartControlPlane(t, cfg)
	mc := fleetv1.NewMaintenanceServiceClient(fleettest.Dial(t, cp.GRPCAddr()))
	ctx := context.Background()
	startServingAgents(t, cp.GRPCAddr(), 2)
	waitState(t, cp.Fleet(t), "web-2", ready, 10*time.Second)
	resp, err := mc.CreateBackup(ctx, &fleetv1.CreateBackupRequest{})
	if err != nil {
		t.Fatal(err)
	}
	b := resp.GetBackup()
	restoreDir := t.TempDir()

	// A truncated backup.
	raw, err := os.ReadFile(b.GetPath())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b.GetPath(), raw[:len(raw)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = mc.VerifyBackup(ctx, &fleetv1.VerifyBackupRequest{Name: b.GetName()})
	if status.Code(err) != codes.DataLoss || !strings.Contains(status.Convert(err).Message(), "truncated") {
		t.Fatalf("VerifyBackup of a truncated file = %v, want DATA_LOSS saying truncated", err)
	}
	if _, err := maintenance.Restore(b.GetPath(), restoreDir, time.Second, time.Now()); !errors.Is(err, store.ErrCorruptStore) {
		t.Fatalf("restore of a truncated file: %v, want ErrCorruptStore", err)
	}
	if _, err := os.Stat(filepath.Join(restoreDir, "fleet.db")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a refused restore left a state file")
	}

	// A backup without its metadata.
	bare := filepath.Join(t.TempDir(), "fleet-copy.db")
	if err := os.WriteFile(bare, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := maintenance.Restore(bare, restoreDir, time.Second, time.Now()); !errors.Is(err, store.ErrCorruptStore) || !strings.Contains(err.Error(), "metadata") {
		t.Fatalf("restore without metadata: %v, want ErrCorruptStore naming the metadata", err)
	}

	// A backup from a newer control plane, its metadata rewritten to match.
	if err := os.WriteFile(b.GetPath(), raw, 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(b.GetPath(), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("meta")).Put([]byte("schema_version"), binary.BigEndian.AppendUint64(nil, 99))
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	rewriteBackupDigest(t, b.GetPath())
	_, err = mc.VerifyBackup(ctx, &fleetv1.VerifyBackupRequest{Name: b.GetName()})
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(status.Convert(err).Message(), "schema 99") {
		t.Fatalf("VerifyBackup of a newer schema = %v, want FAILED_PRECONDITION naming schema 99", err)
	}
	if _, err := maintenance.Restore(b.GetPath(), restoreDir, time.Second, time.Now()); !errors.Is(err, store.ErrSchemaTooNew) {
		t.Fatalf("restore of a newer schema: %v, want ErrSchemaTooNew", err)
	}

	for _, name := range []string{"", "../fleet.db", "fleet-x.db"} {
		if _, err := mc.VerifyBackup(ctx, &fleetv1.VerifyBackupRequest{Name: name}); status.Code(err) != codes.InvalidArgument {
			t.Errorf("VerifyBackup(%q) = %v, want InvalidArgument", name, err)
		}
	}
	if _, err := mc.VerifyBackup(ctx, &fleetv1.VerifyBackupRequest{Name: "fleet-20000101T000000.000000000Z.db"}); status.Code(err) != codes.NotFound {
		t.Errorf("VerifyBackup of a missing backup = %v, want NotFound", err)
	}
}

// rewriteBackupDigest records a changed backup's size and sha256 in its metadata, as if it had
// been written so.
func rewriteBackupDigest(t *testing.T, path string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	metaPath := strings.TrimSuffix(path, ".db") + ".json"
	var m map[string]any
	mraw, err := os.ReadFile(metaPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(mraw, &m); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(raw)
	m["sha256"] = hex.EncodeToString(sum[:])
	m["size_bytes"] = len(raw)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(metaPath, out, 0o600); err != nil {
		t.Fatal(err)
	}
}
