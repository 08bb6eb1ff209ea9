package check_test

import (
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/dspyfleet/dspyfleet/controlplane/check"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// TestApplyMask: only the named fields change, nested paths reach into message fields, a
// named field unset in the source is cleared, and an unknown path is refused naming it.
func TestApplyMask(t *testing.T) {
	current := func() *fleetv1.RoutingPolicy {
		return &fleetv1.RoutingPolicy{
			Strategy: fleetv1.Strategy_STRATEGY_ROUND_ROBIN, PanicThreshold: proto.Float64(0.5),
			OutlierDetection: &fleetv1.OutlierDetection{ConsecutiveErrors: proto.Uint32(5), ErrorRate: proto.Float64(0.5)},
		}
	}
	change := &fleetv1.RoutingPolicy{Strategy: fleetv1.Strategy_STRATEGY_LEAST_LATENCY,
		OutlierDetection: &fleetv1.OutlierDetection{ErrorRate: proto.Float64(0.2)}}
	tests := []struct {
		name  string
		paths []string
		want  *fleetv1.RoutingPolicy
	}{
		{"top level", []string{"strategy"}, func() *fleetv1.RoutingPolicy { p := current(); p.Strategy = change.Strategy; return p }()},
		{"nested", []string{"outlier_detection.error_rate"}, func() *fleetv1.RoutingPolicy {
			p := current()
			p.OutlierDetection.ErrorRate = proto.Float64(0.2)
			return p
		}()},
		{"unset clears", []string{"panic_threshold", "outlier_detection.consecutive_errors"}, func() *fleetv1.RoutingPolicy {
			p := current()
			p.PanicThreshold, p.OutlierDetection.ConsecutiveErrors = nil, nil
			return p
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := current()
			if err := check.ApplyMask(got, change, &fieldmaskpb.FieldMask{Paths: tt.paths}, "update_mask"); err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
	err := check.ApplyMask(current(), change, &fieldmaskpb.FieldMask{Paths: []string{"strategy", "stratgy"}}, "update_mask")
	if br := check.BadRequest(err); len(br.GetFieldViolations()) != 1 || br.GetFieldViolations()[0].GetField() != "update_mask.paths[1]" {
		t.Fatalf("unknown path: %v, want a violation of update_mask.paths[1]", err)
	}
}
