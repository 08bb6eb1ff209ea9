package scaling

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// hookOutputLimit is how much of a hook's output is kept, from its end.
const hookOutputLimit = 4 << 10

// Run runs the actuators' exec hooks, one at a time, as decisions ask for them, retrying
// failures with capped exponential backoff; a wake-up from routing ticks the scaler at once.
// When ctx ends it stores the scaler's memory, recommendation history included.
func (sc *Scaler) Run(ctx context.Context) error {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		wait := sc.runDueHooks(ctx)
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			if err := sc.saveMemory(); err != nil {
				sc.log.Error("storing the scaler's memory at shutdown failed", "err", err)
			}
			return nil
		case <-sc.kick:
		case <-timer.C:
		case <-sc.wakeNow:
			if err := sc.tick(sc.now()); err != nil {
				sc.log.Error("scaling tick after a wake-up failed", "err", err)
			}
		}
	}
}

// runDueHooks runs every hook job that is due and returns how long until the next retry.
func (sc *Scaler) runDueHooks(ctx context.Context) time.Duration {
	for ctx.Err() == nil {
		pool, job, timeout, path, wait := sc.nextDueHook()
		if job == nil {
			return wait
		}
		detail, err := runHook(ctx, path, timeout, pool, job)
		sc.finishHook(pool, job, detail, err)
	}
	return time.Hour
}

// nextDueHook marks the first due job running and returns it, or the wait until one is due.
func (sc *Scaler) nextDueHook() (string, *hookJob, time.Duration, string, time.Duration) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	now := sc.now()
	wait := time.Hour
	for pool, ps := range sc.pools {
		j := ps.job
		if j == nil || ps.act.hook == "" || j.actuator != "exec_hook" {
			continue
		}
		switch {
		case j.state == actPending, j.state == actFailed && !now.Before(j.next):
			j.state, j.attempts = actRunning, j.attempts+1
			return pool, j, ps.act.hookTimeout, ps.act.hook, 0
		case j.state == actFailed:
			wait = min(wait, j.next.Sub(now))
		}
	}
	return "", nil, 0, "", wait
}

// finishHook records a hook's outcome; a failed job is retried after a backoff, unless a newer
// decision replaced it.
func (sc *Scaler) finishHook(pool string, j *hookJob, detail string, err error) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	now := sc.now()
	j.time, j.detail = now, detail
	ps := sc.pools[pool]
	if ps != nil && err == nil {
		ps.hookRuns[0]++
	} else if ps != nil {
		ps.hookRuns[1]++
	}
	if err != nil && ps != nil {
		ps.spotFailedLocked(j, now)
	}
	if err != nil {
		backoff := sc.retryDelay(j.attempts)
		j.state, j.next = actFailed, now.Add(backoff)
		sc.log.Error("scaling hook failed; will retry", "pool", pool, "attempt", j.attempts, "retry_in", backoff, "detail", detail)
	} else {
		j.state = actSucceeded
		sc.log.Info("scaling hook succeeded", "pool", pool, "current", j.current, "desired", j.desired, "victims", j.victims)
	}
	if ps != nil && ps.job == j && ps.queued != nil {
		ps.job, ps.queued = ps.queued, nil
	}
}

// runHook runs the exec hook with the decision in its environment and returns its exit status
// and the end of its output.
func runHook(ctx context.Context, path string, timeout time.Duration, pool string, j *hookJob) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path)
	cmd.Env = append(os.Environ(),
		"POOL="+pool, "CURRENT="+strconv.Itoa(j.current), "DESIRED="+strconv.Itoa(j.desired),
		"VICTIMS="+strings.Join(j.victims, ","))
	cmd.Env = append(cmd.Env, capacityEnv(j)...)
	var out tailBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// Its own process group, so a timeout ends what the hook started too (terraform, ssh, …).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	output := strings.TrimSpace(out.String())
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return "exit 0: " + output, nil
	case ctx.Err() != nil:
		return fmt.Sprintf("killed after %s: %s", timeout, output), fmt.Errorf("hook timed out: %w", ctx.Err())
	case errors.As(err, &exitErr):
		return fmt.Sprintf("exit %d: %s", exitErr.ExitCode(), output), err
	}
	return "could not start: " + err.Error(), err
}

// tailBuffer keeps the last hookOutputLimit bytes written to it.
type tailBuffer struct{ b bytes.Buffer }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b.Write(p)
	if over := t.b.Len() - hookOutputLimit; over > 0 {
		t.b.Next(over)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return t.b.String() }
