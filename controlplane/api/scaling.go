package api

import (
	"cmp"
	"context"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/dspyfleet/dspyfleet/controlplane/check"
	"github.com/dspyfleet/dspyfleet/controlplane/policy"
	"github.com/dspyfleet/dspyfleet/controlplane/scaling"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// Limits of ListDecisions.
const (
	defaultDecisionLimit = 50
	maxDecisionLimit     = 1000
)

// scalingService implements ScalingService on the scaler.
type scalingService struct {
	fleetv1.UnimplementedScalingServiceServer
	sc  *scaling.Scaler
	doc *policy.Document // the one writer of policies
}

// GetPolicy returns a pool's policy with every default filled in.
func (s *scalingService) GetPolicy(_ context.Context, req *fleetv1.ScalingServiceGetPolicyRequest) (*fleetv1.ScalingServiceGetPolicyResponse, error) {
	pool, err := scalingPool(req.GetPool())
	if err != nil {
		return nil, check.ToStatus(err)
	}
	p := s.sc.Policy(pool)
	if p == nil {
		return nil, noScalingPolicy(pool)
	}
	etag, err := s.doc.EntryEtag("scaling", pool)
	if err != nil {
		return nil, check.ToStatus(err)
	}
	return &fleetv1.ScalingServiceGetPolicyResponse{Pool: pool, Policy: p, Etag: etag}, nil
}

// SetPolicy validates a pool's policy and forwards it to the fleet policy document, its one
// writer, as a new revision; it applies from the next tick. With an etag, only when the stored
// policy still has it.
func (s *scalingService) SetPolicy(ctx context.Context, req *fleetv1.ScalingServiceSetPolicyRequest) (*fleetv1.ScalingServiceSetPolicyResponse, error) {
	pool, err := scalingPool(req.GetPool())
	if err != nil {
		return nil, check.ToStatus(err)
	}
	if req.GetPolicy() == nil {
		return nil, check.ToStatus(check.Invalidf("policy: is missing"))
	}
	in, etag := req.GetPolicy(), req.GetEtag()
	if req.GetUpdateMask() != nil {
		if etag == "" {
			// The merge starts from the policy in effect: a change landing meanwhile fails
			// ABORTED rather than being overwritten.
			if etag, err = s.doc.EntryEtag("scaling", pool); err != nil {
				return nil, check.ToStatus(err)
			}
		}
		base := &fleetv1.ScalingPolicy{}
		if cur := s.sc.Policy(pool); cur != nil {
			base = proto.CloneOf(cur) // the scaler's own copy: never modify it
		}
		if err := check.ApplyMask(base, in, req.GetUpdateMask(), "update_mask"); err != nil {
			return nil, check.ToStatus(err)
		}
		in = base
	}
	p, act, err := scaling.PolicyFromProto(scaling.WithDefaults(in, s.sc.Defaults), s.sc.HookDir)
	if err != nil {
		return nil, check.ToStatus(err)
	}
	pb := scaling.PolicyToProto(p, act)
	rev, etag, err := s.doc.Edit("scaling", pool, pb, etag,
		fmt.Sprintf("get the policy again (fleetctl scale policy get %s), redo the change on it and set it with the new etag", pool),
		cmp.Or(req.GetMessage(), "ScalingService.SetPolicy "+pool), author(ctx, ""))
	if err != nil {
		return nil, check.ToStatus(err)
	}
	return &fleetv1.ScalingServiceSetPolicyResponse{Policy: pb, Etag: etag, Revision: rev.GetNumber()}, nil
}

// GetStatus returns the pool's latest decision, forecast and actuation.
func (s *scalingService) GetStatus(_ context.Context, req *fleetv1.ScalingServiceGetStatusRequest) (*fleetv1.ScalingServiceGetStatusResponse, error) {
	pool, err := scalingPool(req.GetPool())
	if err != nil {
		return nil, check.ToStatus(err)
	}
	st, ok := s.sc.Status(pool)
	if !ok {
		return nil, noScalingPolicy(pool)
	}
	return st, nil
}

// ListDecisions returns one page of the pool's recorded decisions, newest first.
func (s *scalingService) ListDecisions(_ context.Context, req *fleetv1.ScalingServiceListDecisionsRequest) (*fleetv1.ScalingServiceListDecisionsResponse, error) {
	pool, err := scalingPool(req.GetPool())
	if err != nil {
		return nil, check.ToStatus(err)
	}
	if req.GetLimit() > maxDecisionLimit {
		return nil, check.ToStatus(check.Invalidf("limit: %d must be at most %d", req.GetLimit(), maxDecisionLimit))
	}
	page, err := parsePage(req, int(req.GetLimit()), defaultDecisionLimit)
	if err != nil {
		return nil, check.ToStatus(err)
	}
	ds, last, more, err := scaling.ListDecisions(s.sc.Store, pool, startKey(page), page.Size)
	if err != nil {
		return nil, check.ToStatus(err)
	}
	return &fleetv1.ScalingServiceListDecisionsResponse{Decisions: ds, NextPageToken: page.Next(string(last), more)}, nil
}

// scalingPool validates a pool name; empty means the default pool.
func scalingPool(pool string) (string, error) {
	if pool == "" {
		return check.DefaultPool, nil
	}
	if !check.ValidID(pool) {
		return "", check.Invalidf("pool: %q is not a valid pool name (1-63 letters, digits, '.', '_' or '-')", check.Truncate(pool))
	}
	return pool, nil
}

func noScalingPolicy(pool string) error {
	return status.Errorf(codes.NotFound, "pool %q has no scaling policy; set one with fleetctl scale policy set %s", pool, pool)
}
