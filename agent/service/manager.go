package service

import (
	"context"
	"errors"
	"time"
)

// Manager runs and restarts the DSPy service on this host.
type Manager interface {
	// Run supervises the service until ctx ends (the process manager starts its instances
	// here; others may just wait).
	Run(ctx context.Context) error
	// Restart restarts every instance and waits until the health check passes.
	Restart(ctx context.Context) (Result, error)
	// Scale sets the number of running instances and waits for the new ones to be healthy.
	Scale(ctx context.Context, instances int) (Result, error)
	// Status describes the instances.
	Status() []Instance
}

// States an Instance of ProcessManager can be in.
const (
	// StateRunning means the instance's process is running.
	StateRunning = "running"
	// StateStopped means the instance was stopped on purpose or has not been started yet.
	StateStopped = "stopped"
	// StateExited means the process exited unexpectedly and waits for its restart backoff.
	StateExited = "exited"
	// StateRestarting means a requested restart is stopping the old process.
	StateRestarting = "restarting"
)

// Instance describes one instance of the service.
type Instance struct {
	// Index numbers the instance from 0.
	Index int
	// PID is the main process id, 0 while no process runs.
	PID int
	// Port is the port the instance listens on.
	Port int
	// State is one of the State constants (a Manager that does not supervise processes
	// itself may report its supervisor's own words).
	State string
	// Restarts counts the starts after the first, whether after a crash or a Restart.
	Restarts int
	// LastExit is how the previous process ended, such as "exit status 3" or "signal: killed".
	LastExit string
	// StartedAt is when the current (or last) process started.
	StartedAt time.Time
}

// Result reports what a command did, for the CommandUpdate sent to the control plane.
type Result struct {
	// Detail is one line a person can read.
	Detail string
	// Fields holds machine-readable details, such as {"new_pids": "123,124"}.
	Fields map[string]string
}

// Errors returned by this package; they are wrapped with details.
var (
	// ErrInvalidConfig reports a configuration the package refuses.
	ErrInvalidConfig = errors.New("invalid service config")
	// ErrInvalidVersion reports a deploy version that ValidVersion refuses.
	ErrInvalidVersion = errors.New("invalid version")
	// ErrInvalidScale reports an instance count Scale refuses.
	ErrInvalidScale = errors.New("invalid instance count")
	// ErrUnhealthy reports a health check that did not pass in time.
	ErrUnhealthy = errors.New("health check failed")
	// ErrNotRunning is returned by Restart and Scale when Run is not supervising.
	ErrNotRunning = errors.New("service manager is not running")
	// ErrHookFailed reports a deploy hook that could not start, failed or timed out.
	ErrHookFailed = errors.New("deploy hook failed")
)
