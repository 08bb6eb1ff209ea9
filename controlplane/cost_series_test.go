package controlplane_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dspyfleet/dspyfleet/internal/fleettest"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// TestCostSeries sends known traffic and reads it back as CostService.GetSeries: the current
// hour's point holds the token cost exactly, by model and by program, and bad requests are
// INVALID_ARGUMENT naming the field.
func TestCostSeries(t *testing.T) {
	cp := fleettest.StartControlPlane(t, fleettest.FastConfig(t))
	c := costClient(t, cp)
	ctx := context.Background()
	if _, err := c.SetPrices(ctx, &fleetv1.SetPricesRequest{Prices: costPrices}); err != nil {
		t.Fatal(err)
	}
	a := connectCostAgent(t, cp, &fleetv1.Hello{NodeId: "w1", Pool: "web", InstanceType: "m.test"}, time.Now)
	a.send(tableReq("sum"), tableReq("sum"), agentReq("qa", false))

	byModel := func(s *fleetv1.CostServiceGetSeriesResponse) map[string]*fleetv1.CostSeries {
		out := map[string]*fleetv1.CostSeries{}
		for _, x := range s.GetSeries() {
			out[x.GetName()] = x
		}
		return out
	}
	last := func(v []float64) float64 { return v[len(v)-1] }
	var resp *fleetv1.CostServiceGetSeriesResponse
	fleettest.Eventually(t, 10*time.Second, "token cost in the series", func() bool {
		var err error
		resp, err = c.GetSeries(ctx, &fleetv1.CostServiceGetSeriesRequest{GroupBy: fleetv1.CostGroupBy_COST_GROUP_BY_MODEL})
		m := byModel(resp)
		return err == nil && m["table"] != nil && near(last(m["table"].GetTokenUsd()), 2.6) && m["agent"] != nil && near(last(m["agent"].GetTokenUsd()), 0.002)
	})
	if n := len(resp.GetTimes()); n != 24 && n != 25 {
		t.Errorf("the default range has %d hourly points, want a day's", n)
	}
	if got := resp.GetStep().AsDuration(); got != time.Hour {
		t.Errorf("default step %s, want 1h", got)
	}
	for i, tm := range resp.GetTimes() {
		if tm.AsTime().Minute() != 0 || (i > 0 && tm.AsTime().Sub(resp.GetTimes()[i-1].AsTime()) != time.Hour) {
			t.Fatalf("times %v are not whole hours an hour apart", resp.GetTimes())
		}
	}
	prog, err := c.GetSeries(ctx, &fleetv1.CostServiceGetSeriesRequest{GroupBy: fleetv1.CostGroupBy_COST_GROUP_BY_PROGRAM, Step: durationpb.New(6 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if p := byModel(prog); p["sum"] == nil || !near(last(p["sum"].GetTokenUsd()), 2.6) || p["qa"] == nil || !near(last(p["qa"].GetTotalUsd()), 0.002) {
		t.Errorf("six-hourly program series %v, want sum 2.6 and qa 0.002 in the last point", prog.GetSeries())
	}
	fleettest.Eventually(t, 10*time.Second, "host cost of web", func() bool {
		resp, err = c.GetSeries(ctx, &fleetv1.CostServiceGetSeriesRequest{Pool: "web"})
		return err == nil && len(resp.GetSeries()) == 1 && last(resp.GetSeries()[0].GetHostUsd()) > 0
	})

	now := time.Now()
	for _, tc := range []struct {
		name  string
		req   *fleetv1.CostServiceGetSeriesRequest
		field string
	}{
		{"inverted", &fleetv1.CostServiceGetSeriesRequest{Start: timestamppb.New(now), End: timestamppb.New(now.Add(-time.Hour))}, "start"},
		{"too long", &fleetv1.CostServiceGetSeriesRequest{Start: timestamppb.New(now.Add(-500 * 24 * time.Hour)), Step: durationpb.New(168 * time.Hour)}, "start"},
		{"part of an hour", &fleetv1.CostServiceGetSeriesRequest{Step: durationpb.New(90 * time.Minute)}, "step"},
		{"under an hour", &fleetv1.CostServiceGetSeriesRequest{Step: durationpb.New(time.Minute)}, "step"},
		{"over a week", &fleetv1.CostServiceGetSeriesRequest{Step: durationpb.New(200 * time.Hour)}, "step"},
		{"too many points", &fleetv1.CostServiceGetSeriesRequest{Start: timestamppb.New(now.Add(-100 * 24 * time.Hour))}, "step"},
		{"grouping", &fleetv1.CostServiceGetSeriesRequest{GroupBy: 99}, "group_by"},
		{"pool", &fleetv1.CostServiceGetSeriesRequest{Pool: "no pool"}, "pool"},
		{"bad end", &fleetv1.CostServiceGetSeriesRequest{End: &timestamppb.Timestamp{Nanos: -1}}, "end"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.GetSeries(ctx, tc.req)
			if status.Code(err) != codes.InvalidArgument || !strings.Contains(status.Convert(err).Message(), tc.field) {
				t.Fatalf("got %v; want InvalidArgument naming %q", err, tc.field)
			}
		})
	}
}
