package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dspyfleet/dspyfleet/internal/fleettest"
)

// TestSystemdNotifyAndReload runs the agent as systemd would, on a real unixgram NOTIFY_SOCKET:
// READY=1, WATCHDOG=1 pings, RELOADING=1 and READY=1 around SIGHUP (the log level changes; a bad
// file keeps the running configuration), STOPPING=1 on SIGTERM.
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

	write(base + "log_level: debug\npool: other\n")
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	sock.Expect(t, "RELOADING=1", 5*time.Second)
	sock.Expect(t, "READY=1", 5*time.Second)
	fleettest.Eventually(t, 5*time.Second, "the reload logged", func() bool {
		return strings.Contains(out.String(), `msg="configuration reloaded" log_level=debug`) &&
			strings.Contains(out.String(), "changed settings other than log_level apply only after a restart")
	})

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
