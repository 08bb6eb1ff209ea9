package controlplane

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/dspyfleet/dspyfleet/controlplane/store"
	"github.com/dspyfleet/dspyfleet/pkg/cost"
)

// Sentinel errors of the registry. toStatus maps them to gRPC codes at the API edge.
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
	// ErrNotFound means a named object (a budget, a recommendation) does not exist.
	ErrNotFound = errors.New("not found")
	// ErrAlertNotFound means no alert rule or silence has the requested name or id.
	ErrAlertNotFound = errors.New("not found")
)

// statusCodes is the one table from domain errors to gRPC codes.
var statusCodes = []struct {
	err  error
	code codes.Code
}{
	{ErrNodeNotFound, codes.NotFound},
	{ErrAlreadyConnected, codes.AlreadyExists},
	{ErrInvalidArgument, codes.InvalidArgument},
	{ErrFailedPrecondition, codes.FailedPrecondition},
	{ErrShuttingDown, codes.Unavailable},
	{ErrSessionEnded, codes.Aborted},
	{ErrWatchBehind, codes.ResourceExhausted},
	{ErrTooManyNodes, codes.ResourceExhausted},
	{ErrNotFound, codes.NotFound},
	{cost.ErrExhausted, codes.ResourceExhausted},
	{cost.ErrInvalid, codes.InvalidArgument},
	{ErrAlertNotFound, codes.NotFound},
	{store.ErrCorruptStore, codes.DataLoss},
	{store.ErrSchemaTooNew, codes.FailedPrecondition},
	{context.Canceled, codes.Canceled},
	{context.DeadlineExceeded, codes.DeadlineExceeded},
}

// toStatus converts an error to a gRPC status error, keeping statuses that already are one.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	for _, e := range statusCodes {
		if errors.Is(err, e.err) {
			return status.Error(e.code, err.Error())
		}
	}
	return status.Error(codes.Internal, err.Error())
}

// invalidf returns an ErrInvalidArgument with a formatted explanation.
func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidArgument}, args...)...)
}
