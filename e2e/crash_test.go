package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dspyfleet/dspyfleet/internal/fleettest"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// binaries builds cmd/dspyfleet-controlplane and cmd/dspyfleet-agent once per test run.
func binaries(t *testing.T) (controlplane, agent string) {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "dspyfleet-bin")
		if buildErr != nil {
			return
		}
		out, err := exec.Command("go", "build", "-o", binDir, "github.com/dspyfleet/dspyfleet/cmd/dspyfleet-controlplane", "github.com/dspyfleet/dspyfleet/cmd/dspyfleet-agent").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(binDir, "dspyfleet-controlplane"), filepath.Join(binDir, "dspyfleet-agent")
}

// proc is a daemon running as a child process.
type proc struct {
	cmd *exec.Cmd
	out fleettest.Buffer
}

func (p *proc) output() string { return p.out.String() }

func startProc(t *testing.T, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		_ = p.cmd.Wait()
		if t.Failed() {
			t.Logf("%s output:\n%s", filepath.Base(bin), p.output())
		}
	})
	return p
}

// kill ends the process with SIGKILL, as a crash would.
func (p *proc) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Wait()
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// crashFixture is a control-plane process and an agent process whose deploy hook records each
// run in a file and then sleeps, so a test can crash either side while the command is running.
type crashFixture struct {
	cpBin, agentBin string
	dataDir         string
	agentArgs       []string
	runs            string
	proxy           *fleettest.Proxy
}

func newCrashFixture(t *testing.T, hookSleep time.Duration) *crashFixture {
	t.Helper()
	cpBin, agentBin := binaries(t)
	dir := t.TempDir()
	health := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	t.Cleanup(health.Close)
	runs := filepath.Join(dir, "runs.txt")
	hook := filepath.Join(dir, "deploy.sh")
	script := fmt.Sprintf("#!/bin/sh\necho \"$1\" >> %s\nsleep %g\n", runs, hookSleep.Seconds())
	if err := os.WriteFile(hook, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "agent.yaml")
	yaml := fmt.Sprintf("actions:\n  deploy:\n    hook: [/bin/sh, %s]\n    timeout: 1m\n  service:\n    manager: process\n    command: [/bin/sleep, \"3600\"]\n    base_port: %s\n    health: {url: \"%s/healthz\", timeout: 5s}\n",
		hook, health.URL[strings.LastIndex(health.URL, ":")+1:], health.URL)
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	f := &crashFixture{cpBin: cpBin, agentBin: agentBin, dataDir: filepath.Join(dir, "cp"), runs: runs}
	f.proxy = fleettest.StartProxy(t, "127.0.0.1:1")
	f.agentArgs = []string{"--config", cfg, "--server", f.proxy.Addr(), "--node-id", "crashy", "--interval", "200ms", "--state-dir", filepath.Join(dir, "agent"), "--intake-listen", ""}
	return f
}

// startControlPlane starts a control-plane process on the fixture's data dir and points the
// agent's proxy at it.
func (f *crashFixture) startControlPlane(t *testing.T) (*proc, fleetv1.FleetServiceClient) {
	t.Helper()
	addr := freeAddr(t)
	p := startProc(t, f.cpBin, "--grpc-listen", addr, "--http-listen", "127.0.0.1:0", "--data-dir", f.dataDir,
		"--ttl-grace", "500ms", "--failover-ttl", "10s", "--liveness-check", "50ms")
	fleettest.Eventually(t, 20*time.Second, "the control plane serving", func() bool {
		return strings.Contains(p.output(), "control plane serving")
	})
	f.proxy.SetTarget(addr)
	return p, fleetv1.NewFleetServiceClient(fleettest.Dial(t, addr))
}

func (f *crashFixture) startAgent(t *testing.T) *proc {
	t.Helper()
	return startProc(t, f.agentBin, f.agentArgs...)
}

// settle runs an undrain (a no-op on this node) through the agent and waits for it. The agent
// runs commands one at a time in the order they arrive, so once it succeeded any repeat of an
// earlier command the agent had been handed has already run its hook and is in the runs file.
func (f *crashFixture) settle(t *testing.T, c fleetv1.FleetServiceClient) {
	t.Helper()
	resp, err := c.SendCommand(context.Background(), &fleetv1.SendCommandRequest{NodeId: "crashy", Kind: fleetv1.CommandKind_COMMAND_KIND_UNDRAIN, Reason: "settle"})
	if err != nil {
		t.Fatal(err)
	}
	waitCommand(t, c, resp.GetCommand().GetCommand().GetId(), succeeded, 30*time.Second)
}

func (f *crashFixture) runsRecorded(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(f.runs)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(b))
}

func TestControlPlaneKilledMidCommandDeliversExactlyOnce(t *testing.T) {
	f := newCrashFixture(t, time.Second)
	cp, c := f.startControlPlane(t)
	f.startAgent(t)
	waitState(t, c, "crashy", ready, 20*time.Second)
	resp, err := c.SendCommand(context.Background(), &fleetv1.SendCommandRequest{
		NodeId: "crashy", Kind: fleetv1.CommandKind_COMMAND_KIND_DEPLOY, Params: map[string]string{"version": "2.0.1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	id := resp.GetCommand().GetCommand().GetId()
	cp.kill(t) // stored, maybe sent, its outcome not yet received

	_, c2 := f.startControlPlane(t)
	rec := waitCommand(t, c2, id, succeeded, 30*time.Second)
	if rec.GetFields()["version"] != "2.0.1" {
		t.Fatalf("outcome fields %v", rec.GetFields())
	}
	f.settle(t, c2)
	if runs := f.runsRecorded(t); len(runs) != 1 || runs[0] != "2.0.1" {
		t.Fatalf("deploy hook ran %d times (%v), want exactly once", len(runs), runs)
	}
}

func TestAgentKilledMidCommandNeverRunsItTwice(t *testing.T) {
	f := newCrashFixture(t, 5*time.Second)
	_, c := f.startControlPlane(t)
	ag := f.startAgent(t)
	waitState(t, c, "crashy", ready, 20*time.Second)
	resp, err := c.SendCommand(context.Background(), &fleetv1.SendCommandRequest{
		NodeId: "crashy", Kind: fleetv1.CommandKind_COMMAND_KIND_DEPLOY, Params: map[string]string{"version": "3.1.0"},
	})
	if err != nil {
		t.Fatal(err)
	}
	id := resp.GetCommand().GetCommand().GetId()
	waitCommand(t, c, id, fleetv1.CommandState_COMMAND_STATE_RUNNING, 20*time.Second)
	fleettest.Eventually(t, 10*time.Second, "the hook started", func() bool { return len(f.runsRecorded(t)) == 1 })
	ag.kill(t)

	f.startAgent(t)
	rec := waitCommand(t, c, id, failed, 30*time.Second)
	if !strings.Contains(rec.GetDetail(), "not run again") {
		t.Fatalf("detail %q", rec.GetDetail())
	}
	waitState(t, c, "crashy", ready, 20*time.Second)
	f.settle(t, c)
	if runs := f.runsRecorded(t); len(runs) != 1 {
		t.Fatalf("deploy hook ran %d times, want once", len(runs))
	}
}
