package fleet

import (
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

func TestRoutingNodesStopCountingNodesLostLongAgo(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	reg := NewRegistry(func() time.Time { return now }, Liveness{DefaultInterval: time.Second}, 16)
	node := func(id string, st fleetv1.NodeState, since time.Duration) *fleetv1.Node {
		return &fleetv1.Node{Id: id, Pool: "web", State: st, StateSince: timestamppb.New(now.Add(-since)), Address: "10.0.0.1:80"}
	}
	reg.Load([]*fleetv1.Node{
		node("recent-down", fleetv1.NodeState_NODE_STATE_DOWN, time.Minute),
		node("old-down", fleetv1.NodeState_NODE_STATE_DOWN, time.Hour),
		node("old-gone", fleetv1.NodeState_NODE_STATE_DISCONNECTED, 10*time.Minute),
	})
	want := map[string]bool{"recent-down": true, "old-down": false, "old-gone": false}
	for _, n := range reg.RoutingNodes("web") {
		if n.Counted != want[n.ID] {
			t.Errorf("%s counted = %v, want %v", n.ID, n.Counted, want[n.ID])
		}
		if n.Ready {
			t.Errorf("%s is ready", n.ID)
		}
	}
}
