package commands

import "time"

const (
	// DefaultTimeout is how long a queued command may wait to be started by its agent when the
	// caller names no deadline.
	DefaultTimeout = 10 * time.Minute
	// DefaultDrainTimeout is how long a drain waits for in-flight requests when the caller names
	// no timeout.
	DefaultDrainTimeout = 5 * time.Minute
)

// OrDefault returns s, or def when s is empty.
func OrDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
