package service

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/dspyfleet/dspyfleet/pkg/command"
)

const (
	defaultDeployTimeout = 10 * time.Minute
	// deployStopGrace is the SIGTERM-to-SIGKILL wait for a hook that timed out.
	deployStopGrace = 5 * time.Second
	// deployOutputTail is how much of the hook's output a Result keeps.
	deployOutputTail = 4096
)

// ValidVersion applies the command vocabulary's version rule (command.ValidVersion): 1 to 128
// letters, digits, '.', '_', '+' and '-', starting with a letter or digit, so a version can
// never be read as an option, a path or shell syntax.
func ValidVersion(v string) error {
	if err := command.ValidVersion(v); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidVersion, err)
	}
	return nil
}

// DeployConfig configures Deploy from the agent's own configuration.
type DeployConfig struct {
	// Hook is the argv of the deploy hook; Deploy appends the version as its final argument.
	Hook []string
	// Timeout bounds the hook's run; 0 means 10m.
	Timeout time.Duration
	// Health checks the service once the hook succeeded.
	Health HealthCheck
}

// Validate reports every invalid setting of c.
func (c DeployConfig) Validate() error {
	var errs []error
	if len(c.Hook) == 0 || c.Hook[0] == "" {
		errs = append(errs, errors.New("deploy hook is empty"))
	}
	if c.Timeout < 0 {
		errs = append(errs, fmt.Errorf("deploy timeout %s must not be negative", c.Timeout))
	}
	errs = append(errs, c.Health.problems()...)
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, errors.Join(errs...))
	}
	return nil
}

// Deploy runs the configured hook with version as its final argument, in its own process group
// and within cfg.Timeout, then waits for cfg.Health against port. The Result's Fields hold
// "version", "exit_status" and "output_tail" (the hook's last output) whenever the hook ran,
// even on error. A version ValidVersion refuses never reaches the hook. A hook that times out
// or whose ctx ends, or whose agent dies while it runs, is stopped with its whole process group;
// processes a successful hook leaves running (a daemon it started) are left alone.
func Deploy(ctx context.Context, cfg DeployConfig, version string, port int) (Result, error) {
	if err := ValidVersion(version); err != nil {
		return Result{}, err
	}
	if err := cfg.Validate(); err != nil {
		return Result{}, err
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = defaultDeployTimeout
	}
	out := newTail(deployOutputTail)
	argv := append(slices.Clone(cfg.Hook), version)
	cmdline := strings.Join(argv, " ")
	p, err := startProcess(procSpec{argv: argv, env: os.Environ(), out: out, dieWithAgent: true})
	if err != nil {
		return Result{}, fmt.Errorf("%w: start %s: %w", ErrHookFailed, cmdline, err)
	}
	timer := time.NewTimer(cfg.Timeout)
	defer timer.Stop()
	var interrupted error
	select {
	case <-p.done:
	case <-timer.C:
		p.stop(deployStopGrace)
		interrupted = fmt.Errorf("timed out after %s", cfg.Timeout)
	case <-ctx.Done():
		p.stop(deployStopGrace)
		interrupted = fmt.Errorf("interrupted: %w", ctx.Err())
	}
	res := Result{Fields: map[string]string{"version": version, "exit_status": p.status, "output_tail": out.String()}}
	switch {
	case interrupted != nil:
		res.Detail = fmt.Sprintf("deploy of %s: hook %s", version, interrupted)
		return res, fmt.Errorf("%w: %s %w (%s); %s", ErrHookFailed, cmdline, interrupted, p.status, describeTail(res.Fields["output_tail"]))
	case !p.success:
		res.Detail = fmt.Sprintf("deploy of %s: hook ended with %s", version, p.status)
		return res, fmt.Errorf("%w: %s ended with %s; %s", ErrHookFailed, cmdline, p.status, describeTail(res.Fields["output_tail"]))
	}
	if err := cfg.Health.Wait(ctx, port); err != nil {
		res.Detail = fmt.Sprintf("deployed %s but the service is not healthy", version)
		return res, fmt.Errorf("deploy %s: the hook succeeded but %w; hook %s", version, err, describeTail(res.Fields["output_tail"]))
	}
	res.Detail = fmt.Sprintf("deployed %s: hook ended with %s, health check passed", version, p.status)
	return res, nil
}
