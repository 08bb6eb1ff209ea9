package controlplane

import (
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/dspyfleet/dspyfleet/controlplane/scaling"
	"github.com/dspyfleet/dspyfleet/internal/cli"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

func TestProfilesGiveScalingDefaults(t *testing.T) {
	rps := []*fleetv1.ScalingTarget{{Metric: "requests_per_second_per_node", Value: 10}}
	tests := []struct {
		name    string
		profile string
		in      *fleetv1.ScalingPolicy
		want    *fleetv1.ScalingPolicy
	}{
		{"development fills size and CPU", cli.Development, &fleetv1.ScalingPolicy{},
			&fleetv1.ScalingPolicy{Min: new(uint32(1)), Max: 3, Targets: []*fleetv1.ScalingTarget{{Metric: "cpu_percent", Value: 80}}}},
		{"production fills size and CPU", cli.Production, &fleetv1.ScalingPolicy{},
			&fleetv1.ScalingPolicy{Min: new(uint32(3)), Max: 20, Targets: []*fleetv1.ScalingTarget{{Metric: "cpu_percent", Value: 60}}}},
		{"production turns the forecast on for a requests target", cli.Production, &fleetv1.ScalingPolicy{Max: 8, Targets: rps},
			&fleetv1.ScalingPolicy{Max: 8, Targets: rps, Predictive: &fleetv1.PredictiveScaling{Enabled: true, Metric: "requests_per_second_per_node"}}},
		{"staging leaves the forecast off", cli.Staging, &fleetv1.ScalingPolicy{Targets: rps},
			&fleetv1.ScalingPolicy{Min: new(uint32(2)), Max: 6, Targets: rps}},
		{"what the policy says wins", cli.Production, &fleetv1.ScalingPolicy{Min: new(uint32(0)), Max: 2, Targets: rps, Predictive: &fleetv1.PredictiveScaling{}},
			&fleetv1.ScalingPolicy{Min: new(uint32(0)), Max: 2, Targets: rps, Predictive: &fleetv1.PredictiveScaling{}}},
		{"a size given without min keeps the default min of 1", cli.Production, &fleetv1.ScalingPolicy{Max: 5, Targets: rps[:0:0]},
			&fleetv1.ScalingPolicy{Max: 5, Targets: []*fleetv1.ScalingTarget{{Metric: "cpu_percent", Value: 60}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := scaling.WithDefaults(tt.in, ProfileConfig(tt.profile).ScalingDefaults)
			if !proto.Equal(got, tt.want) {
				t.Fatalf("got %v\nwant %v", got, tt.want)
			}
			if _, _, err := scaling.PolicyFromProto(got, ""); err != nil {
				t.Fatalf("the filled policy is invalid: %v", err)
			}
		})
	}
}
