package api

import (
	"errors"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dspyfleet/dspyfleet/controlplane/check"
	"github.com/dspyfleet/dspyfleet/controlplane/cost"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// FuzzSeriesRequest feeds arbitrary encoded GetSeries requests to its validator: it must never
// panic, must reject with ErrInvalidArgument, and what it accepts must be within the series
// bounds (a range before its end, at most MaxReportRange long, a step of whole hours up to
// MaxSeriesStep, at most MaxSeriesPoints points, a known grouping, a valid pool).
func FuzzSeriesRequest(f *testing.F) {
	now := time.Date(2026, 12, 4, 3, 30, 0, 0, time.UTC)
	for _, r := range []*fleetv1.CostServiceGetSeriesRequest{
		{},
		{GroupBy: fleetv1.CostGroupBy_COST_GROUP_BY_PROGRAM, Pool: "web", Step: durationpb.New(6 * time.Hour)},
		{Start: timestamppb.New(now.Add(-30 * 24 * time.Hour)), End: timestamppb.New(now), Step: durationpb.New(time.Hour)},
		{Start: timestamppb.New(now), End: timestamppb.New(now.Add(-time.Hour))},
		{Step: durationpb.New(90 * time.Minute), GroupBy: 42, Pool: "a b"},
		{Start: &timestamppb.Timestamp{Seconds: -1 << 62}, Step: &durationpb.Duration{Seconds: 1 << 62}},
	} {
		raw, err := proto.Marshal(r)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		req := &fleetv1.CostServiceGetSeriesRequest{}
		if proto.Unmarshal(raw, req) != nil {
			return
		}
		q, err := seriesQueryOf(req, now)
		if err != nil {
			if !errors.Is(err, check.ErrInvalidArgument) {
				t.Fatalf("rejected without ErrInvalidArgument: %v", err)
			}
			return
		}
		span := q.end.Sub(q.start)
		if !q.start.Before(q.end) || span > cost.MaxReportRange || q.step < time.Hour || q.step > cost.MaxSeriesStep ||
			q.step%time.Hour != 0 || span/q.step+1 > cost.MaxSeriesPoints || !groupings[q.by] || (q.pool != "" && !check.ValidID(q.pool)) {
			t.Fatalf("accepted %v as %+v, out of the series bounds", req, q)
		}
	})
}
