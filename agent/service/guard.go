package service

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
)

// guardScript ignores the signals a stop sends the group, blocks reading a pipe whose only
// writer is the agent, and kills its whole process group once that read returns: the kernel
// closes the agent's end however the agent ends, SIGKILL included.
const guardScript = `trap '' HUP INT TERM; read -r _; kill -9 0`

// guard is a /bin/sh in a hook's process group that kills the group when the agent dies, so
// a hook and everything it started end with the agent instead of completing unobserved.
//
// The parent-death signal (Pdeathsig) is not enough on its own: it reaches only the direct
// child, so a hook's own children, reparented to init, would keep running.
type guard struct {
	cmd *exec.Cmd
	w   *os.File // the agent's end of the pipe; closing it fires the guard
}

// startGuard starts a guard in process group pgid. The group's leader must not have been
// reaped yet, or the group may no longer exist.
func startGuard(pgid int) (*guard, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("/bin/sh", "-c", guardScript)
	cmd.Stdin = r
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pgid: pgid}
	err = cmd.Start()
	r.Close()
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("start the process group's guard: %w", err)
	}
	return &guard{cmd: cmd, w: w}, nil
}

// release ends the guard without touching the rest of its group: it is killed and reaped
// before the pipe closes, so it never sees the end of its input.
func (g *guard) release() {
	_ = g.cmd.Process.Kill()
	_ = g.cmd.Wait()
	g.w.Close()
}
