package service

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// sleeperScript starts a grandchild sleeper, writes its pid to the file named by $1 and
// waits for it.
const sleeperScript = `sleep 300 >/dev/null 2>&1 & echo $! > "$1.tmp" && mv "$1.tmp" "$1"; wait`

// readPid polls path until it holds a pid and kills that process when the test ends.
func readPid(t *testing.T, path string) int {
	t.Helper()
	var pid int
	eventually(t, 10*time.Second, "the hook to write its sleeper's pid", func() bool {
		b, err := os.ReadFile(path)
		if err != nil {
			return false
		}
		pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil
	})
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	return pid
}

func TestHookDiesWithKilledAgent(t *testing.T) {
	pidfile := filepath.Join(t.TempDir(), "sleeper.pid")
	agent := exec.Command(hookrun, "/bin/sh", "-c", sleeperScript, "sh", pidfile)
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	sleeper := readPid(t, pidfile)
	if !alive(sleeper) {
		t.Fatal("the sleeper is not running while the hook runs")
	}
	if err := agent.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = agent.Wait()
	eventually(t, 10*time.Second, "the hook's grandchild to end with the killed agent", func() bool { return !alive(sleeper) })
}

func TestFinishedHookLeavesItsChildren(t *testing.T) {
	pidfile := filepath.Join(t.TempDir(), "daemon.pid")
	script := `sleep 300 >/dev/null 2>&1 & echo $! > "$1"`
	if _, err := (Hook{Command: []string{"/bin/sh", "-c", script, "sh", pidfile}}).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	daemon := readPid(t, pidfile)
	if !alive(daemon) {
		t.Fatal("a process the finished hook started was killed with the hook's guard")
	}
}
