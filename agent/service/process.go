package service

import (
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// outputDrain is how long output is still read after a process exits, for descendants that
// escaped its process group but kept its stdout.
const outputDrain = 500 * time.Millisecond

// process is one started child, the leader of its own process group.
type process struct {
	pid     int
	started time.Time
	done    chan struct{} // closed once the child is reaped and its output drained
	// Set before done is closed.
	status  string // "exit status 3", "signal: killed", or the Wait error
	success bool   // exit status 0
}

// procSpec says what to start.
type procSpec struct {
	argv []string
	dir  string
	env  []string
	out  io.Writer // receives stdout and stderr
	// reapGroup kills whatever is left in the process group once the leader exits.
	reapGroup bool
	// dieWithAgent puts a guard in the process group that kills the group if the agent dies
	// while the leader runs; it is released when the leader exits.
	dieWithAgent bool
}

// startProcess starts spec in a new process group. Output is copied by a goroutine that ends
// with the process; callers own the process until done is closed.
func startProcess(spec procSpec) (*process, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(spec.argv[0], spec.argv[1:]...)
	cmd.Dir = spec.dir
	cmd.Env = spec.env
	cmd.Stdout, cmd.Stderr = w, w
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = cmd.Start()
	w.Close()
	if err != nil {
		r.Close()
		return nil, err
	}
	p := &process{pid: cmd.Process.Pid, started: time.Now(), done: make(chan struct{})}
	var g *guard
	if spec.dieWithAgent {
		// The leader is not reaped before wait runs, so its group still exists to join.
		if g, err = startGuard(p.pid); err != nil {
			_ = syscall.Kill(-p.pid, syscall.SIGKILL)
			_ = cmd.Wait()
			r.Close()
			return nil, err
		}
	}
	go p.wait(cmd, r, spec.out, spec.reapGroup, g)
	return p, nil
}

func (p *process) wait(cmd *exec.Cmd, r *os.File, out io.Writer, reapGroup bool, g *guard) {
	defer close(p.done)
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		_, _ = io.Copy(out, r)
	}()
	err := cmd.Wait()
	if g != nil {
		g.release()
	}
	if reapGroup {
		// Children the leader left behind could hold the port the next start needs.
		_ = syscall.Kill(-p.pid, syscall.SIGKILL)
	}
	drain := time.NewTimer(outputDrain)
	select {
	case <-copied:
	case <-drain.C:
	}
	drain.Stop()
	r.Close()
	<-copied
	if cmd.ProcessState != nil {
		p.status, p.success = cmd.ProcessState.String(), cmd.ProcessState.Success()
	} else {
		p.status = err.Error()
	}
}

// stop sends SIGTERM to the process group, SIGKILL after grace if the leader is still there,
// and returns once the leader is reaped and anything left in its group is killed.
func (p *process) stop(grace time.Duration) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = syscall.Kill(-p.pid, syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
		_ = syscall.Kill(-p.pid, syscall.SIGKILL)
		<-p.done
	}
	_ = syscall.Kill(-p.pid, syscall.SIGKILL)
}
