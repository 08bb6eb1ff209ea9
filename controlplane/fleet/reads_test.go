package fleet

import (
	"fmt"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"
	"google.golang.org/protobuf/types/known/durationpb"

	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// TestReadsWhileNodesMove: fleet-wide reads (eachEntry), made while nodes move to another pool,
// return each node once, only nodes of the pool asked for, and every node that stayed in it.
func TestReadsWhileNodesMove(t *testing.T) {
	r := NewRegistry(func() time.Time { return testNow }, Liveness{Grace: time.Second, DefaultInterval: time.Second}, 8)
	const nodes, moved = 1000, 500
	hello := func(i int, pool string) *fleetv1.Hello {
		return &fleetv1.Hello{NodeId: fmt.Sprintf("n%04d", i), InstanceId: "i", Pool: pool, ReportInterval: durationpb.New(time.Second)}
	}
	for i := range nodes {
		if _, _, err := r.Attach(hello(i, "a"), "peer", func(error) {}); err != nil {
			t.Fatal(err)
		}
	}
	var g errgroup.Group
	g.Go(func() error {
		for i := range moved {
			if _, _, err := r.Attach(hello(i, "b"), "peer", func(error) {}); err != nil {
				return err
			}
		}
		return nil
	})
	g.Go(func() error {
		for range 50 {
			for _, pool := range []string{"a", "b"} {
				seen := map[string]bool{}
				for _, n := range r.List(&fleetv1.ListNodesRequest{Pool: pool}) {
					if n.GetPool() != pool {
						return fmt.Errorf("List(%q) returned node %s of pool %q", pool, n.GetId(), n.GetPool())
					}
					if seen[n.GetId()] {
						return fmt.Errorf("List(%q) returned node %s twice", pool, n.GetId())
					}
					seen[n.GetId()] = true
				}
				if pool == "a" {
					for i := moved; i < nodes; i++ {
						if id := fmt.Sprintf("n%04d", i); !seen[id] {
							return fmt.Errorf("List(a) left out node %s, which never moved", id)
						}
					}
				}
			}
			if got := len(r.ListShared()); got != nodes {
				return fmt.Errorf("ListShared returned %d nodes, want %d", got, nodes)
			}
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	if a, b := len(r.RoutingNodes("a")), len(r.RoutingNodes("b")); a != nodes-moved || b != moved {
		t.Fatalf("after the moves pool a has %d nodes and b %d, want %d and %d", a, b, nodes-moved, moved)
	}
}
