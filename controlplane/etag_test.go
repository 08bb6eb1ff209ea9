package controlplane_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/dspyfleet/dspyfleet/internal/fleettest"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// conflictInfo returns the ETAG_MISMATCH ErrorInfo of an ABORTED error, or nil.
func conflictInfo(err error) *errdetails.ErrorInfo {
	st := status.Convert(err)
	if st.Code() != codes.Aborted {
		return nil
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetReason() == "ETAG_MISMATCH" {
			return info
		}
	}
	return nil
}

// TestConcurrentPolicyUpdatesWithOneEtag: two operators read a pool's routing policy and set
// their change with the etag they read, at once. One wins, the other gets ABORTED with the
// current etag and how to retry, and the loser's change is nowhere. Each round stores exactly one revision, the winner's.
func TestConcurrentPolicyUpdatesWithOneEtag(t *testing.T) {
	cp := fleettest.StartControlPlane(t, fleettest.FastConfig(t))
	conn := fleettest.Dial(t, cp.GRPCAddr())
	rc := fleetv1.NewRoutingServiceClient(conn)
	cc := fleetv1.NewConfigServiceClient(conn)
	ctx := context.Background()
	if _, err := rc.SetPolicy(ctx, &fleetv1.RoutingServiceSetPolicyRequest{Pool: "web", Policy: &fleetv1.RoutingPolicy{}}); err != nil {
		t.Fatal(err)
	}

	for round := range 5 {
		got, err := rc.GetPolicy(ctx, &fleetv1.RoutingServiceGetPolicyRequest{Pool: "web"})
		if err != nil {
			t.Fatal(err)
		}
		etag := got.GetEtag()
		if etag == "" {
			t.Fatal("GetPolicy returned no etag")
		}
		strategies := []fleetv1.Strategy{fleetv1.Strategy_STRATEGY_LEAST_LATENCY, fleetv1.Strategy_STRATEGY_LEAST_CONNECTIONS}
		resps := make([]*fleetv1.RoutingServiceSetPolicyResponse, 2)
		errs := make([]error, 2)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i, s := range strategies {
			wg.Go(func() {
				<-start
				resps[i], errs[i] = rc.SetPolicy(ctx, &fleetv1.RoutingServiceSetPolicyRequest{
					Pool: "web", Policy: &fleetv1.RoutingPolicy{Strategy: s, PanicThreshold: proto.Float64(0.1 * float64(round+1))}, Etag: etag})
			})
		}
		close(start)
		wg.Wait()

		winner, loser := 0, 1
		if errs[0] != nil {
			winner, loser = 1, 0
		}
		if errs[winner] != nil || errs[loser] == nil {
			t.Fatalf("round %d: errors %v, %v; want exactly one to win", round, errs[0], errs[1])
		}
		info := conflictInfo(errs[loser])
		if info == nil {
			t.Fatalf("round %d: loser got %v, want ABORTED with an ETAG_MISMATCH ErrorInfo", round, errs[loser])
		}
		if info.GetMetadata()["etag"] != resps[winner].GetEtag() || !strings.Contains(info.GetMetadata()["retry"], "fleetctl route policy get web") {
			t.Errorf("round %d: conflict metadata %v, want the winner's etag %q and a retry hint", round, info.GetMetadata(), resps[winner].GetEtag())
		}
		now, err := rc.GetPolicy(ctx, &fleetv1.RoutingServiceGetPolicyRequest{Pool: "web"})
		if err != nil {
			t.Fatal(err)
		}
		if now.GetPolicy().GetStrategy() != strategies[winner] || now.GetEtag() != resps[winner].GetEtag() || now.GetEtag() == etag {
			t.Fatalf("round %d: policy %v etag %q; want the winner's %v with etag %q", round, now.GetPolicy().GetStrategy(), now.GetEtag(), strategies[winner], resps[winner].GetEtag())
		}
		revs, err := cc.ListRevisions(ctx, &fleetv1.ConfigServiceListRevisionsRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if len(revs.GetRevisions()) != round+2 || revs.GetRevisions()[0].GetNumber() != resps[winner].GetRevision() {
			t.Fatalf("round %d: %d revisions, newest %d; want %d, newest the winner's %d", round, len(revs.GetRevisions()),
				revs.GetRevisions()[0].GetNumber(), round+2, resps[winner].GetRevision())
		}
	}
}

// TestConfigApplyWithStaleEtag: a document edited from an export that a SetPolicy has since
// changed is refused ABORTED and changes nothing; with the new export's etag it applies.
func TestConfigApplyWithStaleEtag(t *testing.T) {
	cp := fleettest.StartControlPlane(t, fleettest.FastConfig(t))
	conn := fleettest.Dial(t, cp.GRPCAddr())
	rc := fleetv1.NewRoutingServiceClient(conn)
	cc := fleetv1.NewConfigServiceClient(conn)
	ctx := context.Background()

	before, err := cc.Export(ctx, &fleetv1.ConfigServiceExportRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rc.SetPolicy(ctx, &fleetv1.RoutingServiceSetPolicyRequest{Pool: "web", Policy: &fleetv1.RoutingPolicy{Strategy: fleetv1.Strategy_STRATEGY_LEAST_LATENCY}}); err != nil {
		t.Fatal(err)
	}
	after, err := cc.Export(ctx, &fleetv1.ConfigServiceExportRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if after.GetEtag() == before.GetEtag() {
		t.Fatal("the export etag did not change when SetPolicy changed the policy")
	}
	doc := "routing:\n  api:\n    strategy: least_connections\n"
	_, err = cc.Apply(ctx, &fleetv1.ConfigServiceApplyRequest{Document: doc, Message: "stale", Etag: before.GetEtag()})
	if info := conflictInfo(err); info == nil || !strings.Contains(info.GetMetadata()["retry"], "fleetctl config export") {
		t.Fatalf("Apply with a stale etag = %v, want ABORTED with a retry hint", err)
	}
	if now, _ := cc.Export(ctx, &fleetv1.ConfigServiceExportRequest{}); now.GetDocument() != after.GetDocument() {
		t.Fatalf("a refused Apply changed the policy:\n%s", now.GetDocument())
	}
	rev, err := cc.Apply(ctx, &fleetv1.ConfigServiceApplyRequest{Document: doc, Message: "fresh", Etag: after.GetEtag()})
	if err != nil {
		t.Fatal(err)
	}
	if rev.GetRevision().GetEtag() == "" || rev.GetRevision().GetEtag() == after.GetEtag() {
		t.Fatalf("revision etag %q, want a new one", rev.GetRevision().GetEtag())
	}
}

// TestSetPolicyWithUpdateMask: a masked SetPolicy changes only the named fields and keeps the
// others stored; an unknown path is refused naming it.
func TestSetPolicyWithUpdateMask(t *testing.T) {
	cp := fleettest.StartControlPlane(t, fleettest.FastConfig(t))
	conn := fleettest.Dial(t, cp.GRPCAddr())
	rc, sc := fleetv1.NewRoutingServiceClient(conn), fleetv1.NewScalingServiceClient(conn)
	ctx := context.Background()

	if _, err := rc.SetPolicy(ctx, &fleetv1.RoutingServiceSetPolicyRequest{Pool: "web", Policy: &fleetv1.RoutingPolicy{
		Strategy: fleetv1.Strategy_STRATEGY_LEAST_CONNECTIONS, PanicThreshold: proto.Float64(0.3)}}); err != nil {
		t.Fatal(err)
	}
	got, err := rc.SetPolicy(ctx, &fleetv1.RoutingServiceSetPolicyRequest{Pool: "web",
		Policy:     &fleetv1.RoutingPolicy{Strategy: fleetv1.Strategy_STRATEGY_LEAST_LATENCY, PanicThreshold: proto.Float64(0.9)},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"strategy"}}})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetPolicy().GetStrategy() != fleetv1.Strategy_STRATEGY_LEAST_LATENCY || got.GetPolicy().GetPanicThreshold() != 0.3 {
		t.Fatalf("masked routing update = %v; want the new strategy and the stored panic threshold 0.3", got.GetPolicy())
	}
	_, err = rc.SetPolicy(ctx, &fleetv1.RoutingServiceSetPolicyRequest{Pool: "web", Policy: &fleetv1.RoutingPolicy{},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"strategyy"}}})
	if status.Code(err) != codes.InvalidArgument || badRequestField(err) != "update_mask.paths[0]" {
		t.Fatalf("unknown mask path: %v, want InvalidArgument naming update_mask.paths[0]", err)
	}

	if _, err := sc.SetPolicy(ctx, &fleetv1.ScalingServiceSetPolicyRequest{Pool: "web", Policy: &fleetv1.ScalingPolicy{Min: proto.Uint32(1), Max: 4}}); err != nil {
		t.Fatal(err)
	}
	scaled, err := sc.SetPolicy(ctx, &fleetv1.ScalingServiceSetPolicyRequest{Pool: "web", Policy: &fleetv1.ScalingPolicy{Max: 6},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"max"}}})
	if err != nil {
		t.Fatal(err)
	}
	if scaled.GetPolicy().GetMin() != 1 || scaled.GetPolicy().GetMax() != 6 {
		t.Fatalf("masked scaling update = min %d max %d, want 1 and 6", scaled.GetPolicy().GetMin(), scaled.GetPolicy().GetMax())
	}
}
