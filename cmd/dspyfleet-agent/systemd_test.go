package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dspyfleet/dspyfleet/internal/fleettest"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// TestSystemdNotifyAndReload runs the agent as systemd would, on a real unixgram NOTIFY_SOCKET:
// READY=1, WATCHDOG=1 pings, RELOADING=1 and READY=1 around SIGHUP, STOPPING=1 on SIGTERM. The
// reload applies the log level and a cleanup action added to the file (a cleanup command refused
// before it succeeds after); a bad file keeps the running configuration.
func TestSystemdNotifyAndReload(t *testing.T) {
	cp := fleettest.StartControlPlane(t, fleettest.FastConfig(t))
	dir := t.TempDir()
	conf := filepath.Join(dir, "agent.yaml")
	write := func(body string) {
		if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	base := "server: " + cp.GRPCAddr() + "\nnode_id: notified\nstate_dir: " + dir + "\nintake: {listen: 127.0.0.1:0}\n"
	write(base + "log_level: info\n")
	sock := fleettest.ListenNotify(t)
	cmd := exec.Command(os.Args[0], "--config", conf)
	cmd.Env = append(os.Environ(), "DSPYFLEET_TEST_AGENT_MAIN=1", "GORACE=atexit_sleep_ms=0", "NOTIFY_SOCKET="+sock.Path, "WATCHDOG_USEC=200000")
	out := &fleettest.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	sock.Expect(t, "READY=1", 20*time.Second)
	sock.Expect(t, "WATCHDOG=1", 2*time.Second)
	fleet := cp.Fleet(t)
	fleettest.Eventually(t, 20*time.Second, "the agent ready", func() bool {
		return fleettest.NodeState(fleet, "notified") == fleetv1.NodeState_NODE_STATE_READY
	})
	if rec := runCommand(t, fleet, "notified", fleetv1.CommandKind_COMMAND_KIND_CLEANUP); rec.GetState() != fleetv1.CommandState_COMMAND_STATE_FAILED ||
		!strings.Contains(rec.GetDetail(), "no cleanup action is configured") {
		t.Fatalf("cleanup before the reload: %s %q", rec.GetState(), rec.GetDetail())
	}
	logs := filepath.Join(dir, "logs")
	if err := os.MkdirAll(logs, 0o700); err != nil {
		t.Fatal(err)
	}
	old := filepath.Join(logs, "old.log")
	if err := os.WriteFile(old, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(old, time.Now().Add(-2*time.Hour), time.Now().Add(-2*time.Hour)); err != nil {
		t.Fatal(err)
	}

	write(base + "log_level: debug\npool: other\nactions:\n  cleanup:\n    - {root: " + logs + ", max_age: 1h}\n")
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	sock.Expect(t, "RELOADING=1", 5*time.Second)
	sock.Expect(t, "READY=1", 5*time.Second)
	fleettest.Eventually(t, 5*time.Second, "the reload logged", func() bool {
		return strings.Contains(out.String(), `msg="configuration reloaded" log_level=debug`) &&
			strings.Contains(out.String(), "changed settings other than log_level and the cleanup, backup and deploy actions apply only after a restart")
	})

	rec := runCommand(t, fleet, "notified", fleetv1.CommandKind_COMMAND_KIND_CLEANUP)
	if rec.GetState() != fleetv1.CommandState_COMMAND_STATE_SUCCEEDED || rec.GetFields()["files"] != "1" {
		t.Fatalf("cleanup after the reload: %s %q %v", rec.GetState(), rec.GetDetail(), rec.GetFields())
	}
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Fatalf("the old file is still there: %v", err)
	}

	write(base + "interval: 1ms\n")
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	sock.Expect(t, "READY=1", 5*time.Second)
	fleettest.Eventually(t, 5*time.Second, "the failed reload logged", func() bool {
		return strings.Contains(out.String(), "reload failed; the running configuration stays") && strings.Contains(out.String(), "agent.yaml:5: interval")
	})

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	sock.Expect(t, "STOPPING=1", 10*time.Second)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, out)
	}
}

// runCommand sends a command of kind to node and waits for its outcome.
func runCommand(t *testing.T, c fleetv1.FleetServiceClient, node string, kind fleetv1.CommandKind) *fleetv1.CommandRecord {
	t.Helper()
	resp, err := c.SendCommand(context.Background(), &fleetv1.SendCommandRequest{NodeId: node, Kind: kind})
	if err != nil {
		t.Fatal(err)
	}
	id := resp.GetCommand().GetCommand().GetId()
	var rec *fleetv1.CommandRecord
	fleettest.Eventually(t, 20*time.Second, "the command finished", func() bool {
		r, err := c.GetCommand(context.Background(), &fleetv1.GetCommandRequest{Id: id})
		if err != nil {
			return false
		}
		rec = r.GetCommand()
		return rec.GetState() == fleetv1.CommandState_COMMAND_STATE_SUCCEEDED || rec.GetState() == fleetv1.CommandState_COMMAND_STATE_FAILED
	})
	return rec
}
