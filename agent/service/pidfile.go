package service

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// reapWait bounds how long Run waits for an orphaned instance it killed to be gone.
const reapWait = 5 * time.Second

// pidFile names the file that records instance index's process while it runs.
func (m *ProcessManager) pidFile(index int) string {
	return filepath.Join(m.cfg.StateDir, "instance-"+strconv.Itoa(index)+".pid")
}

// recordPID writes p's pid and start time to the instance's pid file, so that an agent started
// after this one was killed can tell the process from a later one that reuses its pid.
func (m *ProcessManager) recordPID(index int, p *process) {
	if m.cfg.StateDir == "" {
		return
	}
	start, err := procStart(p.pid)
	if err == nil {
		err = os.WriteFile(m.pidFile(index), fmt.Appendf(nil, "%d %d\n", p.pid, start), 0o600)
	}
	if err != nil {
		m.log.Warn("recording a service instance's pid failed; an agent killed now would not stop it on restart", "instance", index, "pid", p.pid, "err", err)
	}
}

// forgetPID removes the instance's pid file once its process is gone.
func (m *ProcessManager) forgetPID(index int) {
	if m.cfg.StateDir == "" {
		return
	}
	if err := os.Remove(m.pidFile(index)); err != nil && !errors.Is(err, os.ErrNotExist) {
		m.log.Warn("removing a service instance's pid file failed", "instance", index, "err", err)
	}
}

// reapOrphans kills the process group of every instance a previous agent recorded that still
// runs (same pid, same start time): an agent killed without its instances' guards, or whose
// host was not under systemd, left them holding their ports.
func (m *ProcessManager) reapOrphans() {
	if m.cfg.StateDir == "" {
		return
	}
	files, _ := filepath.Glob(filepath.Join(m.cfg.StateDir, "instance-*.pid"))
	for _, f := range files {
		pid, start, err := readPIDFile(f)
		if err == nil {
			if now, err := procStart(pid); err == nil && now == start {
				m.log.Warn("stopping a service instance an earlier agent left running", "pid", pid, "pid_file", f)
				_ = syscall.Kill(-pid, syscall.SIGKILL)
				_ = syscall.Kill(pid, syscall.SIGKILL)
				waitGone(pid, start)
			}
		}
		_ = os.Remove(f)
	}
}

// waitGone waits, up to reapWait, until the process pid started at start is gone.
func waitGone(pid int, start uint64) {
	deadline := time.Now().Add(reapWait)
	for time.Now().Before(deadline) {
		if now, err := procStart(pid); err != nil || now != start {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// readPIDFile parses "<pid> <start time>".
func readPIDFile(path string) (pid int, start uint64, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, err
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0, 0, fmt.Errorf("%s: want \"<pid> <start time>\", got %q", path, b)
	}
	if pid, err = strconv.Atoi(f[0]); err != nil || pid <= 1 {
		return 0, 0, fmt.Errorf("%s: bad pid %q", path, f[0])
	}
	if start, err = strconv.ParseUint(f[1], 10, 64); err != nil {
		return 0, 0, fmt.Errorf("%s: bad start time %q", path, f[1])
	}
	return pid, start, nil
}

// procStart returns a process's start time in clock ticks since boot (field 22 of
// /proc/<pid>/stat); a zombie counts as gone.
func procStart(pid int) (uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (the state), so field 22 is f[19].
	if len(f) < 20 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f)+2)
	}
	if f[0] == "Z" {
		return 0, fmt.Errorf("process %d is a zombie", pid)
	}
	return strconv.ParseUint(f[19], 10, 64)
}
