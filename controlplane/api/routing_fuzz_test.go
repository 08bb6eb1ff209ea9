package api

import (
	"errors"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/dspyfleet/dspyfleet/controlplane/check"
	"github.com/dspyfleet/dspyfleet/controlplane/router"
	"github.com/dspyfleet/dspyfleet/pkg/routing"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// FuzzRoutingPolicy feeds arbitrary encoded policies to the validator: it must never panic,
// must reject with ErrInvalidArgument, and a policy it accepts must round-trip unchanged.
func FuzzRoutingPolicy(f *testing.F) {
	for _, p := range []*fleetv1.RoutingPolicy{
		{},
		router.PolicyToProto(routing.DefaultPolicy()),
		{Strategy: fleetv1.Strategy_STRATEGY_CONSISTENT_HASH, HashLoadFactor: new(0.1)},
		{PanicThreshold: new(1.5), OutlierDetection: &fleetv1.OutlierDetection{ErrorRate: new(-1.0)}},
	} {
		raw, err := proto.Marshal(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		pp := &fleetv1.RoutingPolicy{}
		if proto.Unmarshal(raw, pp) != nil {
			return
		}
		p, err := router.PolicyFromProto(pp)
		if err != nil {
			if !errors.Is(err, check.ErrInvalidArgument) {
				t.Fatalf("rejected without ErrInvalidArgument: %v", err)
			}
			return
		}
		again, err := router.PolicyFromProto(router.PolicyToProto(p))
		if err != nil || again != p {
			t.Fatalf("accepted policy %+v did not round-trip: %+v, %v", p, again, err)
		}
	})
}

// FuzzPickToken checks the token parser never panics and that tokens it makes parse back.
func FuzzPickToken(f *testing.F) {
	f.Add("web", "node-1", uint32(3), uint64(0), "web/node-1/3/0")
	f.Add("a", "b", uint32(0), uint64(1<<40), "///")
	f.Fuzz(func(t *testing.T, pool, node string, epoch uint32, hold uint64, garbage string) {
		_, _, _, _, _ = parsePickToken(garbage)
		if !check.ValidID(pool) || !check.ValidID(node) {
			return
		}
		p, n, e, h, err := parsePickToken(pickToken(pool, routing.Pick{ID: node, Epoch: epoch}, hold))
		if err != nil || p != pool || n != node || e != epoch || h != hold {
			t.Fatalf("token of %s/%s/%d/%d parsed as %s/%s/%d/%d, %v", pool, node, epoch, hold, p, n, e, h, err)
		}
	})
}
