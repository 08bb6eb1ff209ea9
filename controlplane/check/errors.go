package check

import (
	"errors"
	"fmt"
)

// Invalidf returns an ErrInvalidArgument with a formatted explanation.
func Invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidArgument}, args...)...)
}

// Sentinel errors of the control plane's subsystems; the API edge maps each to a gRPC code.
var (
	// ErrNodeNotFound means no node has the requested id.
	ErrNodeNotFound = errors.New("node not found")
	// ErrAlreadyConnected means another live agent process holds the node id.
	ErrAlreadyConnected = errors.New("node id is already connected")
	// ErrInvalidArgument means a request or stream message failed validation.
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrFailedPrecondition means a message arrived out of order.
	ErrFailedPrecondition = errors.New("failed precondition")
	// ErrShuttingDown means the control plane is stopping.
	ErrShuttingDown = errors.New("control plane is shutting down")
	// ErrSessionEnded means the control plane ended an agent session (node down or replaced).
	ErrSessionEnded = errors.New("session ended by the control plane")
	// ErrWatchBehind means a watcher could not keep up with events.
	ErrWatchBehind = errors.New("watcher fell behind")
	// ErrTooManyNodes means a new node would exceed --max-nodes.
	ErrTooManyNodes = errors.New("too many nodes")
	// ErrNewNodeRate means a credential registered new node ids faster than
	// --max-new-nodes-per-minute allows.
	ErrNewNodeRate = errors.New("too many new nodes")
	// ErrNotFound means a named object (a budget, a recommendation) does not exist.
	ErrNotFound = errors.New("not found")
	// ErrAlertNotFound means no alert rule or silence has the requested name or id.
	ErrAlertNotFound = errors.New("not found")
)
