package scaling

import (
	"errors"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/dspyfleet/dspyfleet/controlplane/check"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// FuzzScalingPolicy: any API policy is either refused with ErrInvalidArgument or accepted as a
// valid policy that survives its own rendering unchanged.
func FuzzScalingPolicy(f *testing.F) {
	seed := &fleetv1.ScalingPolicy{
		Min: proto.Uint32(0), Max: 10, WakeSize: 2,
		Targets: []*fleetv1.ScalingTarget{{Metric: "requests_per_second_per_node", Value: 10}},
		Rules: []*fleetv1.ScalingRule{{Name: "q", Metric: "queue_length_per_node", Comparison: ">", Threshold: 5,
			ForDuration: durationpb.New(time.Minute), Action: "scale_up", Amount: 50, Unit: "percent"}},
		ScaleDown:  &fleetv1.ScalingBehavior{Unlimited: true, StabilizationWindow: durationpb.New(time.Minute)},
		Predictive: &fleetv1.PredictiveScaling{Enabled: true},
		Actuator:   &fleetv1.ScalingActuator{Instances: true, MaxInstancesPerNode: 3},
	}
	b, err := proto.Marshal(seed)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		pp := &fleetv1.ScalingPolicy{}
		if proto.Unmarshal(data, pp) != nil {
			return
		}
		p, act, err := PolicyFromProto(pp, "")
		if err != nil {
			if !errors.Is(err, check.ErrInvalidArgument) {
				t.Fatalf("error %v is not ErrInvalidArgument", err)
			}
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("accepted an invalid policy: %v", err)
		}
		out := PolicyToProto(p, act)
		p2, act2, err := PolicyFromProto(out, "")
		if err != nil {
			t.Fatalf("the rendered policy is refused: %v\n%v", err, out)
		}
		if !proto.Equal(out, PolicyToProto(p2, act2)) {
			t.Fatalf("rendering is not stable:\n%v\n%v", out, PolicyToProto(p2, act2))
		}
	})
}
