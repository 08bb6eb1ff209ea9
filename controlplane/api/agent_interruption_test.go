package api

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

func TestValidateInterruption(t *testing.T) {
	ok := &fleetv1.InterruptionNotice{Source: "ec2", Deadline: timestamppb.New(time.Now())}
	if v := validateInterruption(ok); len(v) > 0 {
		t.Fatalf("valid notice refused: %s", v)
	}
	for _, tc := range []struct {
		n     *fleetv1.InterruptionNotice
		field string
	}{
		{&fleetv1.InterruptionNotice{Deadline: timestamppb.New(time.Now())}, "interruption.source"},
		{&fleetv1.InterruptionNotice{Source: strings.Repeat("x", 33), Deadline: timestamppb.New(time.Now())}, "interruption.source"},
		{&fleetv1.InterruptionNotice{Source: "gce"}, "interruption.deadline"},
		{&fleetv1.InterruptionNotice{Source: "gce", Deadline: &timestamppb.Timestamp{Nanos: -1}}, "interruption.deadline"},
		{&fleetv1.InterruptionNotice{Source: "gce", Deadline: timestamppb.New(time.Now()), Detail: strings.Repeat("x", 257)}, "interruption.detail"},
	} {
		v := validateInterruption(tc.n)
		if len(v) != 1 || v[0].GetField() != tc.field {
			t.Errorf("%v: violations %s, want one naming %s", tc.n, v, tc.field)
		}
	}
}
