package check

import (
	"errors"
	"regexp"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// FieldError is an InvalidArgument error that names the fields at fault; Violations.Err makes one.
type FieldError struct {
	Violations Violations
}

// Error joins the violations into one sentence.
func (e *FieldError) Error() string { return ErrInvalidArgument.Error() + ": " + e.Violations.String() }

// Is makes a FieldError match ErrInvalidArgument.
func (e *FieldError) Is(target error) bool { return target == ErrInvalidArgument }

// Err returns nil when v is empty, and otherwise a *FieldError holding v.
func (v Violations) Err() error {
	if len(v) == 0 {
		return nil
	}
	return &FieldError{Violations: v}
}

// fieldPrefix is how an Invalidf message starts when it names its field: "pool: ...",
// "spec.tasks[2].action: ...", "budgets.team-a.name: ...".
var fieldPrefix = regexp.MustCompile(`^([a-z][a-z0-9_]*(?:\[\d+\])?(?:\.[A-Za-z0-9_-]+(?:\[\d+\])?)*): (.+)$`)

// BadRequest returns the google.rpc.BadRequest detail for an invalid-argument error: the
// violations of a *FieldError, or else one violation whose field is the "field: " prefix of the
// message (empty when the message names no field) and whose description is the rest.
func BadRequest(err error) *errdetails.BadRequest {
	var fe *FieldError
	if errors.As(err, &fe) {
		return badRequestOf(fe.Violations)
	}
	msg := err.Error()
	for _, p := range []string{ErrInvalidArgument.Error() + ": ", "invalid: "} {
		if i := strings.Index(msg, p); i >= 0 {
			msg = msg[i+len(p):]
			break
		}
	}
	br := &errdetails.BadRequest{}
	for part := range strings.SplitSeq(msg, "; ") {
		v := &errdetails.BadRequest_FieldViolation{Description: part}
		if m := fieldPrefix.FindStringSubmatch(part); m != nil {
			v.Field, v.Description = m[1], m[2]
		}
		br.FieldViolations = append(br.FieldViolations, v)
	}
	return br
}

func badRequestOf(v Violations) *errdetails.BadRequest {
	br := &errdetails.BadRequest{}
	for _, f := range v {
		br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{Field: f.GetField(), Description: f.GetDescription()})
	}
	return br
}

// invalidStatus is the InvalidArgument status for err, carrying its BadRequest detail.
func invalidStatus(err error) error {
	st := status.New(codes.InvalidArgument, err.Error())
	if d, derr := st.WithDetails(BadRequest(err)); derr == nil {
		st = d
	}
	return st.Err()
}
