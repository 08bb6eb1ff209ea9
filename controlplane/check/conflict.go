package check

import (
	"errors"
	"fmt"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ErrConflict means a change named an etag that is no longer current (AIP-154): someone else
// changed the resource since the caller read it.
var ErrConflict = errors.New("conflict")

// ConflictError is an ErrConflict that says what changed and how to retry.
type ConflictError struct {
	What       string // the resource: "the routing policy of pool web"
	Want, Have string // the etag given, and the current one
	Retry      string // how to retry: read it again, redo the change, send the new etag
}

// Error says what changed since the caller read it.
func (e *ConflictError) Error() string {
	return fmt.Sprintf("%s: etag: %s changed since it was read (etag %q, now %q); nothing was changed", ErrConflict, e.What, e.Want, e.Have)
}

// Is makes a ConflictError match ErrConflict.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// conflictStatus is the ABORTED status of a conflict, with a google.rpc.ErrorInfo whose
// metadata holds the current etag and the retry hint.
func conflictStatus(err error) error {
	st := status.New(codes.Aborted, err.Error())
	var ce *ConflictError
	if !errors.As(err, &ce) {
		return st.Err()
	}
	info := &errdetails.ErrorInfo{Reason: "ETAG_MISMATCH", Domain: "dspyfleet.v1", Metadata: map[string]string{"etag": ce.Have, "retry": ce.Retry}}
	if d, derr := st.WithDetails(info); derr == nil {
		st = d
	}
	return st.Err()
}
