package sim

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
)

// listDecisionsMethod is ScalingService.ListDecisions.
const listDecisionsMethod = "/dspyfleet.v1.ScalingService/ListDecisions"

// scalingDecisions returns the scaling decisions taken for pool since start, or nil when the
// control plane has no ScalingService (it answers Unimplemented), so the report leaves the
// section out.
//
// This file is the one place that knows the ScalingService: this build has no generated client
// for it, so it can only ask whether the service exists. Once the service's client is generated,
// call fleetv1.NewScalingServiceClient(conn).ListDecisions here and turn each decision newer
// than start into a ScalingDecision (current, desired, and the limit and proposals as reason).
func scalingDecisions(ctx context.Context, conn grpc.ClientConnInterface, pool string, start time.Time) (*Scaling, error) {
	err := conn.Invoke(ctx, listDecisionsMethod, &emptypb.Empty{}, &emptypb.Empty{})
	if status.Code(err) == codes.Unimplemented {
		return nil, nil
	}
	return nil, fmt.Errorf("scaling decisions of pool %s since %s: the ScalingService answered (%v) but this build cannot decode it; regenerate the API and fill scalingDecisions", pool, start.Format(time.RFC3339), err)
}
