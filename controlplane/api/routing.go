package api

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dspyfleet/dspyfleet/controlplane/check"
	"github.com/dspyfleet/dspyfleet/controlplane/cost"
	"github.com/dspyfleet/dspyfleet/controlplane/policy"
	"github.com/dspyfleet/dspyfleet/controlplane/router"
	"github.com/dspyfleet/dspyfleet/controlplane/scaling"
	costmodel "github.com/dspyfleet/dspyfleet/pkg/cost"
	"github.com/dspyfleet/dspyfleet/pkg/routing"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// maxResultLatency bounds the latency a client may report for one request.
const maxResultLatency = time.Hour

// routingService implements RoutingService on the router.
type routingService struct {
	fleetv1.UnimplementedRoutingServiceServer
	rt       *router.Router
	doc      *policy.Document // the one writer of policies
	sc       *scaling.Scaler
	gate     *cost.Gate
	now      func() time.Time
	metrics  *Metrics
	stopping <-chan struct{}
}

// poolArg validates a request's pool name; empty means the default pool.
func poolArg(pool string) (string, error) {
	if pool == "" {
		return check.DefaultPool, nil
	}
	if !check.ValidID(pool) {
		return "", check.Invalidf("pool: %q is not a valid pool name (1-63 letters, digits, '.', '_' or '-')", check.Truncate(pool))
	}
	return pool, nil
}

// Pick chooses a node of the pool, after holding the request's estimated cost against the hard
// budgets that cover it.
func (s *routingService) Pick(_ context.Context, req *fleetv1.PickRequest) (*fleetv1.PickResponse, error) {
	pool, err := poolArg(req.GetPool())
	if err != nil {
		return nil, check.ToStatus(err)
	}
	if len(req.GetKey()) > check.MaxStringLen {
		return nil, check.ToStatus(check.Invalidf("key: %d bytes, at most %d are allowed; hash long keys first", len(req.GetKey()), check.MaxStringLen))
	}
	program := req.GetProgram()
	if len(program) > check.MaxStringLen || !utf8.ValidString(program) {
		return nil, check.ToStatus(check.Invalidf("program: must be valid UTF-8 of at most %d bytes", check.MaxStringLen))
	}
	now := s.now()
	hold, fallback, err := s.gate.ReserveRequest(pool, program, now)
	if err != nil {
		s.metrics.picks.WithLabelValues(pool, "budget_exhausted").Inc()
		return nil, exhausted(err, now)
	}
	if fallback != "" {
		pool = fallback
	}
	pick := s.rt.Pick
	if req.GetCritical() {
		pick = s.rt.PickCritical
	}
	pk, err := pick(pool, req.GetKey())
	if errors.Is(err, router.ErrUnknownPool) {
		_ = s.gate.Release(hold)
		if s.sc.Policy(pool) == nil {
			return nil, check.ToStatus(err)
		}
		return nil, s.unavailable(pool, fmt.Errorf("%w: the pool has no nodes", routing.ErrUnavailable))
	}
	if err != nil {
		_ = s.gate.Release(hold)
		return nil, s.unavailable(pool, err)
	}
	outcome := "picked"
	if pk.Panic {
		outcome = "panic"
	}
	s.metrics.picks.WithLabelValues(pool, outcome).Inc()
	return &fleetv1.PickResponse{NodeId: pk.ID, Address: pk.Address, Token: pickToken(pool, pk, hold.ID), Panic: pk.Panic, Pool: pool}, nil
}

// exhausted answers a Pick refused by a hard budget: RESOURCE_EXHAUSTED naming the budget, with
// a RetryInfo hint until its period resets.
func exhausted(err error, now time.Time) error {
	var ex *costmodel.ExhaustedError
	if !errors.As(err, &ex) {
		return check.ToStatus(err)
	}
	st, derr := status.New(codes.ResourceExhausted, err.Error()).
		WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(max(0, ex.ResetAt.Sub(now)))})
	if derr != nil {
		return status.Error(codes.ResourceExhausted, err.Error())
	}
	return st.Err()
}

// defaultRetryAfter is the retry hint of a refused Pick in a pool the scaler does not manage.
const defaultRetryAfter = 5 * time.Second

// unavailable answers a Pick that found no node: UNAVAILABLE with the reason and a RetryInfo
// hint. A scaled pool is woken (an empty one scales up to its wake size at once) and the hint is
// its lead time.
func (s *routingService) unavailable(pool string, why error) error {
	s.metrics.picks.WithLabelValues(pool, "unavailable").Inc()
	msg := fmt.Sprintf("pool %q: %v", pool, why)
	retry := defaultRetryAfter
	if lead, ok := s.sc.Wake(pool); ok {
		retry = lead
		msg += fmt.Sprintf("; the autoscaler was asked to wake it, retry in %s", lead)
	}
	st, err := status.New(codes.Unavailable, msg).WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(retry)})
	if err != nil {
		return status.Error(codes.Unavailable, msg)
	}
	return st.Err()
}

// pickToken encodes what ReportResult needs: pool, node, in-flight epoch and the hard-budget
// hold (0 for none). Pool and node ids cannot contain '/'.
func pickToken(pool string, pk routing.Pick, hold uint64) string {
	return pool + "/" + pk.ID + "/" + strconv.FormatUint(uint64(pk.Epoch), 36) + "/" + strconv.FormatUint(hold, 36)
}

// parsePickToken reverses pickToken.
func parsePickToken(tok string) (pool, node string, epoch uint32, hold uint64, err error) {
	parts := strings.Split(tok, "/")
	if len(parts) == 4 && check.ValidID(parts[0]) && check.ValidID(parts[1]) {
		e, eerr := strconv.ParseUint(parts[2], 36, 32)
		h, herr := strconv.ParseUint(parts[3], 36, 64)
		if eerr == nil && herr == nil {
			return parts[0], parts[1], uint32(e), h, nil
		}
	}
	return "", "", 0, 0, check.Invalidf("token: %q is not a token returned by Pick", check.Truncate(tok))
}

// ReportResult settles a picked request.
func (s *routingService) ReportResult(_ context.Context, req *fleetv1.ReportResultRequest) (*fleetv1.ReportResultResponse, error) {
	pool, node, epoch, hold, err := parsePickToken(req.GetToken())
	if err != nil {
		return nil, check.ToStatus(err)
	}
	lat := req.GetLatency()
	if lat == nil || lat.CheckValid() != nil || lat.AsDuration() < 0 || lat.AsDuration() > maxResultLatency {
		return nil, check.ToStatus(check.Invalidf("latency: must be set, between 0 and %s", maxResultLatency))
	}
	if c := req.CostUsd; c != nil && (math.IsNaN(*c) || math.IsInf(*c, 0) || *c < 0) {
		return nil, check.ToStatus(check.Invalidf("cost_usd: %v must be a finite amount, not negative", *c))
	}
	s.settle(hold, req.CostUsd)
	return &fleetv1.ReportResultResponse{}, check.ToStatus(s.rt.Result(pool, node, epoch, lat.AsDuration(), req.GetOk()))
}

// settle ends a pick's hard-budget hold with the reported cost, else its estimate. A hold that
// already expired (a result reported more than the hold's lifetime later) has nothing to settle:
// the agents' reports bring the cost to the ledger anyway.
func (s *routingService) settle(hold uint64, costUSD *float64) {
	if hold == 0 {
		return
	}
	now := s.now()
	if costUSD != nil {
		_ = s.gate.Settle(cost.Reservation{ID: hold}, *costUSD, now)
		return
	}
	_ = s.gate.SettleEstimate(hold, now)
}

// WatchEndpoints streams the pool's routing set on every change until the client leaves.
func (s *routingService) WatchEndpoints(req *fleetv1.WatchEndpointsRequest, stream grpc.ServerStreamingServer[fleetv1.WatchEndpointsResponse]) error {
	pool, err := poolArg(req.GetPool())
	if err != nil {
		return check.ToStatus(err)
	}
	ch, cancel := s.rt.Watch(pool)
	defer cancel()
	for {
		select {
		case <-stream.Context().Done():
			return nil
		case <-s.stopping:
			return check.ToStatus(check.ErrShuttingDown)
		case resp := <-ch:
			if err := stream.Send(resp); err != nil {
				return err
			}
		}
	}
}

// GetPolicy returns a pool's effective policy.
func (s *routingService) GetPolicy(_ context.Context, req *fleetv1.RoutingServiceGetPolicyRequest) (*fleetv1.RoutingServiceGetPolicyResponse, error) {
	pool, err := poolArg(req.GetPool())
	if err != nil {
		return nil, check.ToStatus(err)
	}
	pp, configured, err := s.rt.Policy(pool)
	if err != nil {
		return nil, check.ToStatus(err)
	}
	etag, err := s.doc.EntryEtag("routing", pool)
	if err != nil {
		return nil, check.ToStatus(err)
	}
	return &fleetv1.RoutingServiceGetPolicyResponse{Pool: pool, Policy: pp, Configured: configured, Etag: etag}, nil
}

// SetPolicy validates a pool's policy and forwards it to the fleet policy document, its one
// writer, as a new revision; with an etag, only when the stored policy still has it.
func (s *routingService) SetPolicy(ctx context.Context, req *fleetv1.RoutingServiceSetPolicyRequest) (*fleetv1.RoutingServiceSetPolicyResponse, error) {
	if req.GetPool() == "" {
		return nil, check.ToStatus(check.Invalidf("pool: is empty; name the pool the policy is for"))
	}
	pool, err := poolArg(req.GetPool())
	if err != nil {
		return nil, check.ToStatus(err)
	}
	if req.GetPolicy() == nil {
		return nil, check.ToStatus(check.Invalidf("policy: is missing"))
	}
	in, etag := req.GetPolicy(), req.GetEtag()
	if req.GetUpdateMask() != nil {
		if in, etag, err = s.maskedPolicy(pool, in, req.GetUpdateMask(), etag); err != nil {
			return nil, check.ToStatus(err)
		}
	}
	p, err := router.PolicyFromProto(in)
	if err != nil {
		return nil, check.ToStatus(err)
	}
	pp := router.PolicyToProto(p)
	rev, etag, err := s.doc.Edit("routing", pool, pp, etag,
		fmt.Sprintf("get the policy again (fleetctl route policy get %s), redo the change on it and set it with the new etag", pool),
		cmp.Or(req.GetMessage(), "RoutingService.SetPolicy "+pool), author(ctx, ""))
	if err != nil {
		return nil, check.ToStatus(err)
	}
	return &fleetv1.RoutingServiceSetPolicyResponse{Policy: pp, Etag: etag, Revision: rev.GetNumber()}, nil
}

// maskedPolicy applies the mask's fields of in onto the pool's policy in effect (the defaults
// for a pool never configured). Without an etag from the caller it returns the etag the merge
// started from, so a change landing meanwhile fails ABORTED rather than being overwritten.
func (s *routingService) maskedPolicy(pool string, in *fleetv1.RoutingPolicy, mask *fieldmaskpb.FieldMask, etag string) (*fleetv1.RoutingPolicy, string, error) {
	if etag == "" {
		var err error
		if etag, err = s.doc.EntryEtag("routing", pool); err != nil {
			return nil, "", err
		}
	}
	base := router.PolicyToProto(routing.DefaultPolicy())
	if cur, configured, err := s.rt.Policy(pool); err == nil && configured {
		base = cur
	}
	if err := check.ApplyMask(base, in, mask, "update_mask"); err != nil {
		return nil, "", err
	}
	return base, etag, nil
}

// GetStatus explains the pool's routing state.
func (s *routingService) GetStatus(_ context.Context, req *fleetv1.RoutingServiceGetStatusRequest) (*fleetv1.RoutingServiceGetStatusResponse, error) {
	pool, err := poolArg(req.GetPool())
	if err != nil {
		return nil, check.ToStatus(err)
	}
	st, err := s.rt.Status(pool)
	if err != nil {
		return nil, check.ToStatus(err)
	}
	resp := &fleetv1.RoutingServiceGetStatusResponse{Pool: pool, Strategy: router.StrategyToProto(st.Strategy), Panic: st.Panic,
		PanicReason: st.PanicReason, Healthy: uint32(st.Healthy), Counted: uint32(st.Counted), Version: st.Version}
	for _, n := range st.Nodes {
		ns := &fleetv1.RoutingNodeStatus{NodeId: n.ID, Address: n.Address, State: n.State, Eligible: n.Eligible, Reason: n.Reason,
			Weight: n.Weight, EffectiveWeight: n.EffectiveWeight, InFlight: n.InFlight, Ejected: n.Ejected,
			Ejections: uint32(n.Ejections), Latency: durationpb.New(n.Latency), ErrorRate: n.ErrorRate}
		if n.Ejected {
			ns.EjectedUntil = timestamppb.New(n.EjectedUntil)
		}
		resp.Nodes = append(resp.Nodes, ns)
	}
	return resp, nil
}
