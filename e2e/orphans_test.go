package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dspyfleet/dspyfleet/internal/fleettest"
)

// servicePID asks the service on port for its pid; 0 when nothing answers.
func servicePID(port int) int {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/info")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	var info struct {
		PID int `json:"pid"`
	}
	if json.NewDecoder(resp.Body).Decode(&info) != nil {
		return 0
	}
	return info.PID
}

// running reports whether pid is a live process (a zombie waiting for init counts as gone).
func running(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(fields) > 0 && fields[0] != "Z"
}

// groupMembers lists the processes in process group pgid other than its leader.
func groupMembers(t *testing.T, pgid int) []int {
	t.Helper()
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var out []int
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		s := string(b)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(f)))
		if len(fields) > 2 && fields[2] == strconv.Itoa(pgid) && pid != pgid {
			out = append(out, pid)
		}
	}
	return out
}

// TestKilledAgentLeavesNoServiceBehind: outside systemd, kill -9 of the agent left its
// supervised service holding its port under init, so the restarted agent's instance
// crash-looped. The instance dies with the agent; and when even its guard was killed, the
// restarted agent stops the instance the last one recorded before starting its own.
func TestKilledAgentLeavesNoServiceBehind(t *testing.T) {
	srv := buildHealthsrv(t)
	_, agentBin := binaries(t)
	cp := fleettest.StartControlPlane(t, fleettest.FastConfig(t))
	c := cp.Fleet(t)
	port := fleettest.FreePortRange(t, 1)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "agent.yaml")
	yaml := fmt.Sprintf("actions:\n  service:\n    manager: process\n    command: [%s]\n    base_port: %d\n    health: {url: \"http://127.0.0.1:{port}/healthz\", timeout: 10s}\n", srv, port)
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"--config", cfg, "--server", cp.GRPCAddr(), "--node-id", "orphan", "--interval", "200ms",
		"--state-dir", filepath.Join(dir, "state"), "--intake-listen", ""}
	serving := func(what string) int {
		t.Helper()
		var pid int
		fleettest.Eventually(t, 20*time.Second, what, func() bool { pid = servicePID(port); return pid != 0 })
		return pid
	}

	a := startProc(t, agentBin, args...)
	first := serving("the first agent's instance to serve")
	a.kill(t)
	fleettest.Eventually(t, 10*time.Second, "the instance to end with its killed agent", func() bool {
		return servicePID(port) == 0 && !running(first)
	})

	a = startProc(t, agentBin, args...)
	second := serving("the restarted agent's instance to serve")
	fleettest.Eventually(t, 10*time.Second, "the restarted agent to report its service healthy", func() bool {
		n := nodeOf(t, c, "orphan")
		h := n.GetLastReport().GetServiceHealth()
		return n.GetState() == ready && h.GetHealthy() && h.GetHealthyInstances() == 1
	})
	guards := groupMembers(t, second)
	if len(guards) != 1 {
		t.Fatalf("the instance's process group holds %v besides the instance; want its guard only", guards)
	}
	if err := syscall.Kill(guards[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	a.kill(t)
	t.Cleanup(func() { _ = syscall.Kill(-second, syscall.SIGKILL) })
	if servicePID(port) != second {
		t.Fatal("without its guard the instance should outlive the killed agent, as on a host where the guard was killed too")
	}

	startProc(t, agentBin, args...)
	fleettest.Eventually(t, 20*time.Second, "the third agent to replace the orphaned instance", func() bool {
		pid := servicePID(port)
		return pid != 0 && pid != second
	})
	if running(second) {
		t.Errorf("the orphaned instance %d still runs", second)
	}
}
