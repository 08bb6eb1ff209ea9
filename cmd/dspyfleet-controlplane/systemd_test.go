package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dspyfleet/dspyfleet/internal/fleettest"
)

// TestSystemdNotifyAndReload runs the control plane as systemd would: READY=1 once serving,
// WATCHDOG=1 at half of WATCHDOG_USEC, RELOADING=1 then READY=1 around each SIGHUP, STOPPING=1 on
// SIGTERM, all on a real unixgram NOTIFY_SOCKET. A reload applies the new log level and node
// TTL; a bad file keeps the running configuration and says why.
func TestSystemdNotifyAndReload(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "cp.yaml")
	write := func(body string) {
		if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("log_level: info\nnode_ttl: 10s\ndata_dir: " + dir + "\ngrpc_listen: 127.0.0.1:0\nhttp_listen: 127.0.0.1:0\n")
	sock := fleettest.ListenNotify(t)
	cmd, out := startChildEnv(t, []string{"NOTIFY_SOCKET=" + sock.Path, "WATCHDOG_USEC=200000"}, "--config", conf)
	sock.Expect(t, "READY=1", 20*time.Second)
	for range 2 {
		sock.Expect(t, "WATCHDOG=1", 2*time.Second)
	}

	write("log_level: debug\nnode_ttl: 20s\nflush_interval: 3s\ndata_dir: " + dir + "\ngrpc_listen: 127.0.0.1:0\nhttp_listen: 127.0.0.1:0\n")
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if m, _ := sock.Expect(t, "RELOADING=1", 5*time.Second); !strings.Contains(m, "MONOTONIC_USEC=") {
		t.Fatalf("reloading without MONOTONIC_USEC: %q", m)
	}
	sock.Expect(t, "READY=1", 5*time.Second)
	fleettest.Eventually(t, 5*time.Second, "the reload logged", func() bool {
		return strings.Contains(out.String(), "configuration reloaded") && strings.Contains(out.String(), "node_ttl=20s") &&
			strings.Contains(out.String(), "--flush-interval (running 1s, configured 3s)")
	})

	write("log_level: debug\nttl_grace: -1s\n")
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	sock.Expect(t, "RELOADING=1", 5*time.Second)
	sock.Expect(t, "READY=1", 5*time.Second)
	fleettest.Eventually(t, 5*time.Second, "the failed reload logged", func() bool {
		return strings.Contains(out.String(), "reload failed; the running configuration stays") && strings.Contains(out.String(), "cp.yaml:2: ttl_grace")
	})
	sock.Expect(t, "WATCHDOG=1", 2*time.Second)

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_, skipped := sock.Expect(t, "STOPPING=1", 10*time.Second)
	if slices.Contains(skipped, "READY=1") {
		t.Fatalf("READY after the reload's: %q", skipped)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, out)
	}
	if strings.Count(out.String(), "configuration reloaded") != 1 {
		t.Fatalf("want exactly one applied reload:\n%s", out)
	}
}
