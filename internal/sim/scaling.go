package sim

import (
	"context"
	"fmt"
	"slices"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// scalingDecisions returns the scaling decisions recorded for pool since start, oldest first, or
// nil when the pool has no scaling policy (or the control plane no ScalingService), so the report
// leaves the section out.
func scalingDecisions(ctx context.Context, conn grpc.ClientConnInterface, pool string, start time.Time) (*Scaling, error) {
	client := fleetv1.NewScalingServiceClient(conn)
	out := &Scaling{Decisions: []ScalingDecision{}}
	for token := ""; ; {
		resp, err := client.ListDecisions(ctx, &fleetv1.ScalingServiceListDecisionsRequest{Pool: pool, PageSize: 1000, PageToken: token})
		switch status.Code(err) {
		case codes.OK:
		case codes.NotFound, codes.Unimplemented:
			return nil, nil
		default:
			return nil, fmt.Errorf("scaling decisions of pool %s: %w", pool, err)
		}
		older := false // pages are newest first: one reaching before start is the last needed
		for _, d := range resp.GetDecisions() {
			if t := d.GetTime().AsTime(); !t.Before(start) {
				out.Decisions = append(out.Decisions, ScalingDecision{Time: t, Current: d.GetCurrent(), Desired: d.GetDesired(), Reason: d.GetReason()})
			} else {
				older = true
			}
		}
		if token = resp.GetNextPageToken(); token == "" || older {
			break
		}
	}
	slices.SortFunc(out.Decisions, func(a, b ScalingDecision) int { return a.Time.Compare(b.Time) })
	return out, nil
}
