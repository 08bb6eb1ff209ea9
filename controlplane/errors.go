package controlplane

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/dspyfleet/dspyfleet/controlplane/check"
	"github.com/dspyfleet/dspyfleet/controlplane/store"
	"github.com/dspyfleet/dspyfleet/pkg/cost"
)

// statusCodes is the one table from domain errors to gRPC codes.
var statusCodes = []struct {
	err  error
	code codes.Code
}{
	{check.ErrNodeNotFound, codes.NotFound},
	{check.ErrAlreadyConnected, codes.AlreadyExists},
	{check.ErrInvalidArgument, codes.InvalidArgument},
	{check.ErrFailedPrecondition, codes.FailedPrecondition},
	{check.ErrShuttingDown, codes.Unavailable},
	{check.ErrSessionEnded, codes.Aborted},
	{check.ErrWatchBehind, codes.ResourceExhausted},
	{check.ErrTooManyNodes, codes.ResourceExhausted},
	{check.ErrNotFound, codes.NotFound},
	{cost.ErrExhausted, codes.ResourceExhausted},
	{cost.ErrInvalid, codes.InvalidArgument},
	{check.ErrAlertNotFound, codes.NotFound},
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
