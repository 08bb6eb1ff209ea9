package main

import (
	"fmt"
	"io"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/status"
)

// printDetails prints the structured details of a failed call: one line per invalid field of a
// google.rpc.BadRequest, and the hint of a google.rpc.ErrorInfo (an etag conflict says how to retry).
func printDetails(w io.Writer, s *status.Status) {
	for _, d := range s.Details() {
		switch d := d.(type) {
		case *errdetails.BadRequest:
			for _, v := range d.GetFieldViolations() {
				field := v.GetField()
				if field == "" {
					field = "(request)"
				}
				fmt.Fprintf(w, "  field %s: %s\n", field, v.GetDescription())
			}
		case *errdetails.ErrorInfo:
			if hint := d.GetMetadata()["retry"]; hint != "" {
				fmt.Fprintf(w, "  %s\n", hint)
			}
		}
	}
}
