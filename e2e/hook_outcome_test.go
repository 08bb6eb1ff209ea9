package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dspyfleet/dspyfleet/internal/fleettest"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// hookFixture is a crash fixture whose agent also has a custom action "slow": a hook that
// writes its pid, waits for the file go (or, with wait false, sleeps a minute), then exits 0.
type hookFixture struct {
	*crashFixture
	pidFile, goFile, stateDir string
}

func newHookFixture(t *testing.T, waitForGo bool) *hookFixture {
	t.Helper()
	f := &hookFixture{crashFixture: newCrashFixture(t, time.Second)}
	dir := filepath.Dir(f.runs)
	f.pidFile, f.goFile, f.stateDir = filepath.Join(dir, "hook.pid"), filepath.Join(dir, "go"), filepath.Join(dir, "agent")
	body := "sleep 60"
	if waitForGo {
		body = fmt.Sprintf("while [ ! -e %s ]; do sleep 0.05; done", f.goFile)
	}
	hook := filepath.Join(dir, "slow.sh")
	if err := os.WriteFile(hook, fmt.Appendf(nil, "#!/bin/sh\necho $$ > %s\n%s\nexit 0\n", f.pidFile, body), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := f.agentArgs[1]
	yaml, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	yaml = fmt.Appendf(yaml, "  custom:\n    slow:\n      command: [/bin/sh, %s]\n      timeout: 2m\n", hook)
	if err := os.WriteFile(cfg, yaml, 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// startSlow sends the custom command and waits until its hook runs; it returns the command id
// and the hook's pid.
func (f *hookFixture) startSlow(t *testing.T, c fleetv1.FleetServiceClient) (string, int) {
	t.Helper()
	resp, err := c.SendCommand(context.Background(), &fleetv1.SendCommandRequest{
		NodeId: "crashy", Kind: fleetv1.CommandKind_COMMAND_KIND_CUSTOM, Params: map[string]string{"action": "slow"},
	})
	if err != nil {
		t.Fatal(err)
	}
	id := resp.GetCommand().GetCommand().GetId()
	waitCommand(t, c, id, fleetv1.CommandState_COMMAND_STATE_RUNNING, 20*time.Second)
	var pid int
	fleettest.Eventually(t, 10*time.Second, "the hook started", func() bool {
		b, err := os.ReadFile(f.pidFile)
		if err != nil {
			return false
		}
		pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil
	})
	return id, pid
}

// TestAgentKilledMidHookKillsItAndReportsRestart: kill -9 of the agent while a custom hook
// runs kills the hook's whole process group, and the restarted agent reports the command
// failed because the agent restarted.
func TestAgentKilledMidHookKillsItAndReportsRestart(t *testing.T) {
	f := newHookFixture(t, false)
	_, c := f.startControlPlane(t)
	ag := f.startAgent(t)
	waitState(t, c, "crashy", ready, 20*time.Second)
	id, pid := f.startSlow(t, c)
	pgid, err := syscall.Getpgid(pid)
	if err != nil {
		t.Fatal(err)
	}
	ag.kill(t)
	fleettest.Eventually(t, 10*time.Second, "the hook's process group gone with the agent", func() bool {
		return !running(pid) && !running(pgid) && len(groupMembers(t, pgid)) == 0
	})

	f.startAgent(t)
	rec := waitCommand(t, c, id, failed, 30*time.Second)
	if !strings.Contains(rec.GetDetail(), "agent restarted") || !strings.Contains(rec.GetDetail(), "killed") {
		t.Fatalf("detail %q, want it to say the agent restarted and the hook was killed", rec.GetDetail())
	}
}

// TestHookEndedWhileAgentDownReportsItsExitStatus: a hook that ends while its agent is frozen
// (SIGSTOP), before the agent learnt its outcome, and the agent then killed with -9: the
// restarted agent reports the hook's real exit status, not a failure.
func TestHookEndedWhileAgentDownReportsItsExitStatus(t *testing.T) {
	f := newHookFixture(t, true)
	_, c := f.startControlPlane(t)
	ag := f.startAgent(t)
	waitState(t, c, "crashy", ready, 20*time.Second)
	id, _ := f.startSlow(t, c)
	if err := ag.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.goFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	record := filepath.Join(f.stateDir, "runs", id+".exit")
	fleettest.Eventually(t, 10*time.Second, "the hook's run record", func() bool {
		_, err := os.Stat(record)
		return err == nil
	})
	ag.kill(t)

	f.startAgent(t)
	rec := waitCommand(t, c, id, succeeded, 30*time.Second)
	if !strings.Contains(rec.GetDetail(), "exit status 0") || rec.GetFields()["exit_status"] != "exit status 0" {
		t.Fatalf("outcome %q %v, want the hook's exit status 0", rec.GetDetail(), rec.GetFields())
	}
	if _, err := os.Stat(record); !os.IsNotExist(err) {
		t.Errorf("run record %s left after its outcome was reported: %v", record, err)
	}
}
