package controlplane_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/dspyfleet/dspyfleet/internal/fleettest"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// TestThousandsOfBadFieldsGetInvalidArgument: a price table with 12,000 names past the length
// limit is refused with InvalidArgument naming the first 50 (the count of the rest in the
// message), in a status small enough for any client. Unbounded, the status was over 16 MiB
// and the caller's connection failed (Unavailable, COMPRESSION_ERROR).
func TestThousandsOfBadFieldsGetInvalidArgument(t *testing.T) {
	cfg := fleettest.FastConfig(t)
	cfg.MaxRecvBytes = 64 << 20
	cp := fleettest.StartControlPlane(t, cfg)
	const bad = 12000
	p := &fleetv1.Prices{}
	for i := range bad {
		p.Instances = append(p.Instances, &fleetv1.InstancePrice{InstanceType: fmt.Sprintf("type-%05d-%s", i, strings.Repeat("x", 250)), OnDemandHourly: 1})
	}
	_, err := costClient(t, cp).SetPrices(context.Background(), &fleetv1.SetPricesRequest{Prices: p})
	st := status.Convert(err)
	if st.Code() != codes.InvalidArgument {
		t.Fatalf("SetPrices of %d bad names: %v, want InvalidArgument", bad, st.Code())
	}
	if n := len(st.Message()); n > 16<<10 || !strings.Contains(st.Message(), "the first 50 of 12000 bad fields are listed") {
		t.Errorf("message of %d bytes: %.300q…", n, st.Message())
	}
	var br *errdetails.BadRequest
	for _, d := range st.Details() {
		if b, ok := d.(*errdetails.BadRequest); ok {
			br = b
		}
	}
	if br == nil || len(br.GetFieldViolations()) != 50 || !strings.Contains(br.GetFieldViolations()[0].GetDescription(), "instances[type-00000-") {
		t.Fatalf("BadRequest detail %.500v, want the first 50 bad fields", br)
	}
	// The connection is fine: the next call on it succeeds.
	if _, err := costClient(t, cp).GetPrices(context.Background(), &fleetv1.GetPricesRequest{}); err != nil {
		t.Fatalf("GetPrices after the refusal: %v", err)
	}
}
