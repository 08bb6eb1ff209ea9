package check

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

func TestBound(t *testing.T) {
	plain := errors.New(strings.Repeat("x", 20<<10))
	if got := Bound(plain); got != plain {
		t.Errorf("Bound changed a non-status error: %v", got)
	}
	if Bound(nil) != nil {
		t.Error("Bound(nil) is not nil")
	}
	small := status.Error(codes.NotFound, "no node with id \"a\"")
	if got := Bound(small); got != small {
		t.Errorf("Bound changed a small status: %v", got)
	}

	// A long message of multi-byte characters is cut on a character boundary.
	long := status.New(codes.InvalidArgument, strings.Repeat("é", 10<<10))
	long, _ = long.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(0)})
	got := status.Convert(Bound(long.Err()))
	if got.Code() != codes.InvalidArgument || len(got.Message()) > maxStatusMessage+64 || !utf8.ValidString(got.Message()) || !strings.HasSuffix(got.Message(), "(12288 more bytes)") {
		t.Errorf("long message bounded to %d bytes, valid UTF-8 %v: …%q", len(got.Message()), utf8.ValidString(got.Message()), got.Message()[max(0, len(got.Message())-40):])
	}
	if d := got.Details(); len(d) != 1 {
		t.Errorf("details %v, want the RetryInfo kept", d)
	}

	// Many violations: the first 50 stay, each field and description shortened.
	br := &errdetails.BadRequest{}
	for range 200 {
		br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{Field: strings.Repeat("f", 1000), Description: strings.Repeat("d", 1000)})
	}
	many, _ := status.New(codes.InvalidArgument, "bad").WithDetails(br)
	got = status.Convert(Bound(many.Err()))
	if !strings.Contains(got.Message(), "the first 50 of 200 bad fields are listed") {
		t.Errorf("message %q does not say the violations were cut", got.Message())
	}
	cut, ok := got.Details()[0].(*errdetails.BadRequest)
	if !ok || len(cut.GetFieldViolations()) != maxFieldViolations {
		t.Fatalf("details %v, want %d violations", got.Details(), maxFieldViolations)
	}
	if v := cut.GetFieldViolations()[0]; len(v.GetField()) != maxViolationField || len(v.GetDescription()) != maxViolationMessage {
		t.Errorf("violation of %d and %d bytes, want %d and %d", len(v.GetField()), len(v.GetDescription()), maxViolationField, maxViolationMessage)
	}
}
