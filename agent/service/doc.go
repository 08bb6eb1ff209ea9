// Package service runs and restarts the DSPy HTTP service on a worker host.
//
// A Manager restarts, scales and reports the instances of the service. ProcessManager is the
// Manager in which the agent itself supervises the configured command: it starts each instance
// in its own process group, restarts instances that exit unexpectedly with a capped exponential
// backoff, keeps each instance's exit status and the tail of its output, and stops the whole
// group (SIGTERM, then SIGKILL after a grace period) when told to or when Run ends. Deploy runs
// the configured deploy hook with a validated version string as its final argument. A hook (deploy
// or custom action) runs in its own process group with a guard, a /bin/sh that kills the group when
// the agent dies however it dies, so no hook outlives a killed agent.
//
// The control plane only picks an action and typed parameters (an instance count, a version);
// what runs comes from the agent's own configuration, so no command can make the agent run an
// arbitrary command line. HealthCheck decides when a started instance counts as up.
//
// The package is Unix-only: it relies on process groups.
package service
