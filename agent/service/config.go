package service

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dspyfleet/dspyfleet/pkg/backoff"
)

const (
	defaultInstances      = 1
	defaultMaxInstances   = 32
	defaultStopGrace      = 10 * time.Second
	defaultRestartBackoff = time.Second
	// maxRestartBackoff caps the crash backoff unless RestartBackoff is longer; a process that
	// stays up this long resets it.
	maxRestartBackoff = 30 * time.Second
	defaultOutputTail = 4096
)

// ProcessConfig configures ProcessManager, in which the agent itself supervises the command.
// Everything that runs comes from here, that is from the agent's own configuration.
type ProcessConfig struct {
	// Command is the argv of one instance; "{port}" in an argument is replaced by the
	// instance's port.
	Command []string
	// Dir is the working directory; empty means the agent's.
	Dir string
	// Env holds extra KEY=VALUE entries added to the agent's environment. PORT=<port> and
	// DSPYFLEET_INSTANCE=<index> are always set and may not appear here.
	Env []string
	// Instances is the number started by Run; 0 means 1.
	Instances int
	// MaxInstances bounds Scale; 0 means 32, or Instances if more.
	MaxInstances int
	// BasePort is the port of instance 0; instance i listens on BasePort+i.
	BasePort int
	// StopGrace is the wait between SIGTERM and SIGKILL; 0 means 10s.
	StopGrace time.Duration
	// RestartBackoff is the delay before restarting a crashed instance; it doubles with each
	// crash in a row up to 30s (or RestartBackoff if longer). 0 means 1s.
	RestartBackoff time.Duration
	// Health decides when a started instance is up.
	Health HealthCheck
	// StateDir, when set, holds a pid file per running instance: an agent started after one
	// that was killed stops what that one left running before it starts its own instances.
	StateDir string
	// OutputTail is how many bytes of combined stdout and stderr are kept per instance;
	// 0 means 4096.
	OutputTail int
}

// withDefaults returns c with zero values replaced by the documented defaults.
func (c ProcessConfig) withDefaults() ProcessConfig {
	if c.Instances == 0 {
		c.Instances = defaultInstances
	}
	if c.MaxInstances == 0 {
		c.MaxInstances = max(defaultMaxInstances, c.Instances)
	}
	if c.StopGrace == 0 {
		c.StopGrace = defaultStopGrace
	}
	if c.RestartBackoff == 0 {
		c.RestartBackoff = defaultRestartBackoff
	}
	if c.OutputTail == 0 {
		c.OutputTail = defaultOutputTail
	}
	return c
}

// Validate reports every invalid setting of c (after defaults), each naming its field.
func (c ProcessConfig) Validate() error {
	c = c.withDefaults()
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	check(len(c.Command) > 0 && c.Command[0] != "", "command is empty")
	for _, kv := range c.Env {
		key, _, ok := strings.Cut(kv, "=")
		check(ok && key != "", "env entry %q must be KEY=VALUE", kv)
		check(key != "PORT" && key != "DSPYFLEET_INSTANCE", "env entry %q: %s is set for each instance", kv, key)
	}
	check(c.Instances >= 0, "instances %d must not be negative", c.Instances)
	check(c.MaxInstances >= c.Instances, "max_instances %d must be at least instances %d", c.MaxInstances, c.Instances)
	check(c.BasePort >= 1 && c.BasePort+c.MaxInstances-1 <= 65535,
		"base_port %d must be at least 1 and leave room for max_instances %d ports up to 65535", c.BasePort, c.MaxInstances)
	check(c.StopGrace > 0, "stop_grace %s must be positive", c.StopGrace)
	check(c.RestartBackoff > 0, "restart_backoff %s must be positive", c.RestartBackoff)
	check(c.OutputTail > 0, "output_tail %d must be positive", c.OutputTail)
	errs = append(errs, c.Health.problems()...)
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, errors.Join(errs...))
	}
	return nil
}

// restartDelay is the wait before restarting an instance after crashes crashes in a row
// (0 for the first): base doubled per crash, capped at 30s or base if longer.
func restartDelay(base time.Duration, crashes int) time.Duration {
	return backoff.Policy{Initial: base, Max: maxRestartBackoff}.Step(crashes)
}
