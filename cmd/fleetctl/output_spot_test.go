package main

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// TestWriteNodeSpot shows a spot node's capacity type and its interruption notice.
func TestWriteNodeSpot(t *testing.T) {
	n := fixtureNodes()[1]
	n.CapacityType = fleetv1.CapacityType_CAPACITY_TYPE_SPOT
	n.Interruption = &fleetv1.InterruptionNotice{Source: "ec2", Detail: "spot instance-action terminate", Deadline: timestamppb.New(fixtureNow.Add(2 * time.Minute))}
	var b strings.Builder
	if err := writeNode(&b, n, fixtureNow); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Instance type:   -\nCapacity type:   spot\n",
		"Interruption:    ec2 notice (spot instance-action terminate), reclaimed at 2026-03-01T10:02:00Z",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("missing %q in\n%s", want, b.String())
		}
	}
}
