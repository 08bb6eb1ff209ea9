package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dspyfleet/dspyfleet/internal/fleettest"
)

// startNotifiedAgent runs the agent binary with the settings file body on a real NOTIFY_SOCKET.
func startNotifiedAgent(t *testing.T, body string) (*exec.Cmd, *fleettest.NotifySocket, *fleettest.Buffer) {
	t.Helper()
	dir := t.TempDir()
	conf := filepath.Join(dir, "agent.yaml")
	if err := os.WriteFile(conf, []byte(body+"state_dir: "+dir+"\nintake: {listen: 127.0.0.1:0}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sock := fleettest.ListenNotify(t)
	cmd := exec.Command(os.Args[0], "--config", conf)
	cmd.Env = append(os.Environ(), "DSPYFLEET_TEST_AGENT_MAIN=1", "GORACE=atexit_sleep_ms=0", "NOTIFY_SOCKET="+sock.Path)
	out := &fleettest.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd, sock, out
}

// TestRefusedAgentIsNeverReady: an agent whose token the control plane refuses says what to fix,
// waits at least 15 s (the first step of 30 s, jittered) before trying again instead of the
// reconnect backoff's half a second, and never tells systemd READY=1; an agent whose control
// plane is down is ready at once and waits for it with its reports buffered.
func TestRefusedAgentIsNeverReady(t *testing.T) {
	cfg := fleettest.FastConfig(t)
	cfg.AgentToken = fleettest.Token(t, "agent-0123456789abcdef")
	cp := fleettest.StartControlPlane(t, cfg)
	tok := filepath.Join(t.TempDir(), "agent.token")
	if err := os.WriteFile(tok, []byte("wrong-0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd, sock, out := startNotifiedAgent(t, fmt.Sprintf("server: %s\nnode_id: refused\ntoken_file: %s\n", cp.GRPCAddr(), tok))
	fleettest.Eventually(t, 20*time.Second, "the refusal logged", func() bool {
		return strings.Contains(out.String(), "the control plane refuses this agent")
	})
	line := regexp.MustCompile(`.*the control plane refuses this agent.*`).FindString(out.String())
	m := regexp.MustCompile(`retry_in=(\S+)`).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("no retry_in in %q", line)
	}
	if d, err := time.ParseDuration(m[1]); err != nil || d < 15*time.Second {
		t.Fatalf("retry_in %s (%v) after a refusal, want at least 15s: %s", m[1], err, line)
	}
	if !strings.Contains(line, "Unauthenticated") || !strings.Contains(line, "level=ERROR") {
		t.Fatalf("the refusal does not say why at ERROR: %s", line)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_, before := sock.Expect(t, "STOPPING=1", 10*time.Second)
	for _, msg := range before {
		if strings.HasPrefix(msg, "READY=1") {
			t.Fatalf("a refused agent told systemd %q", msg)
		}
	}

	down := fmt.Sprintf("127.0.0.1:%d", fleettest.FreePortRange(t, 1))
	_, sock, out = startNotifiedAgent(t, "server: "+down+"\nnode_id: waiting\n")
	sock.Expect(t, "READY=1", 20*time.Second)
	if strings.Contains(out.String(), "refuses") {
		t.Fatalf("an unreachable control plane was taken for a refusal:\n%s", out)
	}
}
