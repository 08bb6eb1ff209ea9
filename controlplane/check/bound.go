package check

import (
	"context"
	"fmt"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// The bounds of an error status. A status travels in HTTP/2 trailers, which clients cap (16
// MiB in grpc-go, less elsewhere): a request with thousands of bad fields would otherwise
// answer with a status past the cap, and the caller sees its connection fail (Unavailable,
// COMPRESSION_ERROR) instead of InvalidArgument naming the fields.
const (
	maxStatusMessage    = 8 << 10
	maxFieldViolations  = 50
	maxViolationField   = 256
	maxViolationMessage = 512
)

// Bound returns err with its status kept within the bounds: the message cut to 8 KiB, and a
// BadRequest detail cut to its first 50 violations (each field and description shortened), the
// cut said in the message. Errors within the bounds are returned as they are.
func Bound(err error) error {
	st, ok := status.FromError(err)
	if !ok || err == nil || proto.Size(st.Proto()) <= maxStatusMessage {
		return err
	}
	p := st.Proto()
	msg := p.GetMessage()
	if len(msg) > maxStatusMessage {
		cut := truncateUTF8(msg, maxStatusMessage)
		msg = fmt.Sprintf("%s… (%d more bytes)", cut, len(msg)-len(cut))
	}
	out := status.New(st.Code(), msg).Proto()
	for _, d := range p.GetDetails() {
		var br errdetails.BadRequest
		if d.UnmarshalTo(&br) != nil {
			out.Details = append(out.Details, d)
			continue
		}
		if n := len(br.FieldViolations); n > maxFieldViolations {
			br.FieldViolations = br.FieldViolations[:maxFieldViolations]
			out.Message += fmt.Sprintf(" (the first %d of %d bad fields are listed)", maxFieldViolations, n)
		}
		for _, v := range br.FieldViolations {
			v.Field = truncateUTF8(v.Field, maxViolationField)
			v.Description = truncateUTF8(v.Description, maxViolationMessage)
		}
		if a, err := anypb.New(&br); err == nil {
			out.Details = append(out.Details, a)
		}
	}
	return status.FromProto(out).Err()
}

// truncateUTF8 cuts s to at most n bytes without splitting a character.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

// UnaryBound is the unary server interceptor that keeps every error status within the bounds.
func UnaryBound(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	resp, err := handler(ctx, req)
	return resp, Bound(err)
}

// StreamBound is the stream server interceptor that keeps every error status within the bounds.
func StreamBound(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	return Bound(handler(srv, ss))
}
