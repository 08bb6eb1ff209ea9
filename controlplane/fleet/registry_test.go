package fleet

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/dspyfleet/dspyfleet/controlplane/check"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// TestSlowWatcherIsDropped: a watcher whose buffer fills is dropped with ErrWatchBehind instead
// of blocking the registry, and other watchers keep receiving.
func TestSlowWatcherIsDropped(t *testing.T) {
	r := NewRegistry(func() time.Time { return testNow }, Liveness{Grace: time.Second, DefaultInterval: time.Second}, 2)
	slow, _, err := r.Watch("", false)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		h := &fleetv1.Hello{NodeId: fmt.Sprintf("n%d", i), InstanceId: "i", ReportInterval: durationpb.New(time.Second)}
		if _, _, err := r.Attach(h, "peer", func(error) {}); err != nil {
			t.Fatal(err)
		}
	}
	got := 0
	for range slow.C {
		got++
	}
	if got != 2 || !errors.Is(r.WatchErr(slow), check.ErrWatchBehind) {
		t.Fatalf("slow watcher got %d events and err %v; want 2 then ErrWatchBehind", got, r.WatchErr(slow))
	}
	fresh, initial, err := r.Watch("", false)
	if err != nil || len(initial) != 3 {
		t.Fatalf("a new watcher sees %d nodes, %v", len(initial), err)
	}
	r.Unwatch(fresh)
	r.Unwatch(slow) // safe after the registry dropped it
}

// TestSessionReplacementCancelsOldSession checks the duplicate-id rule at the registry.
func TestSessionReplacementCancelsOldSession(t *testing.T) {
	now := testNow
	r := NewRegistry(func() time.Time { return now }, Liveness{Grace: time.Second, DefaultInterval: time.Second}, 8)
	hello := func(instance string) *fleetv1.Hello {
		return &fleetv1.Hello{NodeId: "n", InstanceId: instance, ReportInterval: durationpb.New(time.Second)}
	}
	var cause error
	if _, _, err := r.Attach(hello("a"), "p1", func(err error) { cause = err }); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Attach(hello("b"), "p2", func(error) {}); !errors.Is(err, check.ErrAlreadyConnected) {
		t.Fatalf("another live instance: %v, want ErrAlreadyConnected", err)
	}
	now = now.Add(10 * time.Second) // the first session went silent past its TTL
	if _, _, err := r.Attach(hello("b"), "p2", func(error) {}); err != nil {
		t.Fatalf("replacing a silent session: %v", err)
	}
	if !errors.Is(cause, check.ErrSessionEnded) {
		t.Fatalf("old session ended with %v", cause)
	}
}

// TestPoolIndexFollowsTheHello: a node that comes back in another pool leaves the old one, in
// every view that reads the pool index.
func TestPoolIndexFollowsTheHello(t *testing.T) {
	r := NewRegistry(func() time.Time { return testNow }, Liveness{Grace: time.Second, DefaultInterval: time.Second}, 8)
	r.Load([]*fleetv1.Node{{Id: "kept", Pool: "web"}})
	attach := func(pool, instance string) {
		t.Helper()
		s, _, err := r.Attach(&fleetv1.Hello{NodeId: "n", Pool: pool, InstanceId: instance, ReportInterval: durationpb.New(time.Second)}, "p", func(error) {})
		if err != nil {
			t.Fatal(err)
		}
		r.Detach(s, "test")
	}
	attach("web", "a")
	if got := ids(r.ScalingNodes("web")); !slices.Equal(got, []string{"kept", "n"}) {
		t.Fatalf("web has %v, want kept and n", got)
	}
	attach("batch", "b")
	if got := ids(r.ScalingNodes("web")); !slices.Equal(got, []string{"kept"}) {
		t.Fatalf("after n moved to batch, web has %v", got)
	}
	if got := ids(r.List(&fleetv1.ListNodesRequest{Pool: "batch"})); !slices.Equal(got, []string{"n"}) {
		t.Fatalf("batch lists %v, want n", got)
	}
	if !r.HasPool("batch") || !slices.Equal(r.Pools(), []string{"batch", "web"}) {
		t.Fatalf("pools %v", r.Pools())
	}
	attach("", "c") // no pool is the default pool
	if r.HasPool("batch") || !slices.Equal(r.Pools(), []string{check.DefaultPool, "web"}) {
		t.Fatalf("after n moved to the default pool, pools %v", r.Pools())
	}
}

func ids(nodes []*fleetv1.Node) []string {
	var out []string
	for _, n := range nodes {
		out = append(out, n.GetId())
	}
	return out
}
