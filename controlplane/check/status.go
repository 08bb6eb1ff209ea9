package check

import (
	"context"
	"errors"

	"github.com/dspyfleet/dspyfleet/controlplane/store"
	"github.com/dspyfleet/dspyfleet/pkg/cost"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
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
	{ErrConflict, codes.Aborted},
	{ErrWatchBehind, codes.ResourceExhausted},
	{ErrTooManyNodes, codes.ResourceExhausted},
	{ErrNewNodeRate, codes.ResourceExhausted},
	{ErrNotFound, codes.NotFound},
	{cost.ErrExhausted, codes.ResourceExhausted},
	{cost.ErrInvalid, codes.InvalidArgument},
	{ErrAlertNotFound, codes.NotFound},
	{store.ErrCorruptStore, codes.DataLoss},
	{store.ErrSchemaTooNew, codes.FailedPrecondition},
	{context.Canceled, codes.Canceled},
	{context.DeadlineExceeded, codes.DeadlineExceeded},
}

// ToStatus converts an error to a gRPC status error, keeping statuses that already are one.
func ToStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	for _, e := range statusCodes {
		if errors.Is(err, e.err) {
			switch e.err {
			case ErrInvalidArgument, cost.ErrInvalid:
				return invalidStatus(err)
			case ErrConflict:
				return conflictStatus(err)
			}
			return status.Error(e.code, err.Error())
		}
	}
	return status.Error(codes.Internal, err.Error())
}
