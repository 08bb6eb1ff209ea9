package check_test

import (
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/dspyfleet/dspyfleet/controlplane/check"
)

// TestInvalidArgumentCarriesBadRequest: every error that maps to InvalidArgument leaves the API
// with a google.rpc.BadRequest naming the field, whether it is a Violations list or an Invalidf.
func TestInvalidArgumentCarriesBadRequest(t *testing.T) {
	var two check.Violations
	two.Add("budget.name", "must be set")
	two.Add("budget.pool", "%q is not a valid pool name", "a b")
	tests := []struct {
		name   string
		err    error
		fields []string
		descs  []string
	}{
		{"violations", two.Err(), []string{"budget.name", "budget.pool"}, []string{"must be set", `"a b" is not a valid pool name`}},
		{"invalidf with field", check.Invalidf("pool: %q is not a valid pool name", "x y"), []string{"pool"}, []string{`"x y" is not a valid pool name`}},
		{"indexed field", check.Invalidf("spec.tasks[2].action: unknown"), []string{"spec.tasks[2].action"}, []string{"unknown"}},
		{"joined", check.Invalidf("a: one; b.c: two"), []string{"a", "b.c"}, []string{"one", "two"}},
		{"no field", check.Invalidf("empty message: set one of hello, report"), []string{""}, []string{"empty message: set one of hello, report"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := status.Convert(check.ToStatus(tt.err))
			if st.Code() != codes.InvalidArgument {
				t.Fatalf("code %v, want InvalidArgument", st.Code())
			}
			var br *errdetails.BadRequest
			for _, d := range st.Details() {
				if b, ok := d.(*errdetails.BadRequest); ok {
					br = b
				}
			}
			if br == nil {
				t.Fatalf("no BadRequest detail on %v", st)
			}
			if len(br.GetFieldViolations()) != len(tt.fields) {
				t.Fatalf("violations %v, want fields %v", br.GetFieldViolations(), tt.fields)
			}
			for i, v := range br.GetFieldViolations() {
				if v.GetField() != tt.fields[i] || v.GetDescription() != tt.descs[i] {
					t.Errorf("violation %d = %q %q, want %q %q", i, v.GetField(), v.GetDescription(), tt.fields[i], tt.descs[i])
				}
			}
		})
	}
}

// TestEmptyViolationsAreNoError: an empty list is valid.
func TestEmptyViolationsAreNoError(t *testing.T) {
	var v check.Violations
	if err := v.Err(); err != nil {
		t.Fatalf("Err() = %v, want nil", err)
	}
}
