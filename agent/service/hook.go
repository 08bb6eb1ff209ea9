package service

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// defaultHookTimeout bounds a custom action that sets no timeout.
const defaultHookTimeout = 10 * time.Minute

// Hook is a command the agent's configuration names for a custom action.
type Hook struct {
	// Command is the argv to run; nothing from the control plane is added to it.
	Command []string
	// Timeout bounds its run; 0 means 10m.
	Timeout time.Duration
}

// Validate reports every invalid setting of h.
func (h Hook) Validate() error {
	var errs []error
	if len(h.Command) == 0 || h.Command[0] == "" {
		errs = append(errs, errors.New("command is empty"))
	}
	if h.Timeout < 0 {
		errs = append(errs, fmt.Errorf("timeout %s must not be negative", h.Timeout))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, errors.Join(errs...))
	}
	return nil
}

// Run runs the hook in its own process group within its timeout. The Result's Fields hold
// "exit_status" and "output_tail" whenever it ran, even on error; a hook that times out or whose
// ctx ends is stopped with its whole process group, and if the agent dies while the hook runs a
// guard in the group kills the group.
func (h Hook) Run(ctx context.Context) (Result, error) { return h.RunRecorded(ctx, "") }

// runRecordScript runs a hook ("$@" after the record path) and writes its exit status to the
// record file (written aside, then renamed), so the status outlives an agent that dies after
// the hook ended but before it learnt the outcome.
const runRecordScript = `r=$1; shift; "$@"; s=$?; printf '%s\n' "$s" > "$r.tmp" && mv "$r.tmp" "$r"; exit $s`

// RunRecorded is Run with the hook's exit status also written to the file record (none when
// record is ""), by a /bin/sh wrapper in the hook's process group: the file exists only if the
// hook ended, since a dying agent's guard kills the wrapper with the group.
func (h Hook) RunRecorded(ctx context.Context, record string) (Result, error) {
	if err := h.Validate(); err != nil {
		return Result{}, err
	}
	argv := h.Command
	if record != "" {
		argv = append([]string{"/bin/sh", "-c", runRecordScript, "dspyfleet-hook", record}, h.Command...)
	}
	timeout := h.Timeout
	if timeout == 0 {
		timeout = defaultHookTimeout
	}
	out := newTail(deployOutputTail)
	cmdline := strings.Join(h.Command, " ")
	p, err := startProcess(procSpec{argv: argv, env: os.Environ(), out: out, dieWithAgent: true})
	if err != nil {
		return Result{}, fmt.Errorf("%w: start %s: %w", ErrHookFailed, cmdline, err)
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	var interrupted error
	select {
	case <-p.done:
	case <-timer.C:
		p.stop(deployStopGrace)
		interrupted = fmt.Errorf("timed out after %s", timeout)
	case <-ctx.Done():
		p.stop(deployStopGrace)
		interrupted = fmt.Errorf("interrupted: %w", ctx.Err())
	}
	res := Result{Fields: map[string]string{"exit_status": p.status, "output_tail": out.String()}}
	switch {
	case interrupted != nil:
		res.Detail = "hook " + interrupted.Error()
		return res, fmt.Errorf("%w: %s %w (%s); %s", ErrHookFailed, cmdline, interrupted, p.status, describeTail(res.Fields["output_tail"]))
	case !p.success:
		res.Detail = "hook ended with " + p.status
		return res, fmt.Errorf("%w: %s ended with %s; %s", ErrHookFailed, cmdline, p.status, describeTail(res.Fields["output_tail"]))
	}
	res.Detail = "hook ended with " + p.status
	return res, nil
}
