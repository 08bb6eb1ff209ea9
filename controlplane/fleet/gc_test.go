package fleet

import (
	"errors"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dspyfleet/dspyfleet/controlplane/check"
	"github.com/dspyfleet/dspyfleet/pkg/nodegc"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// TestRemoveRechecksUnderTheLock: Remove forgets a node the policy removes (publishing
// REMOVED and leaving a tombstone for the flush), keeps one whose agent reconnected since the
// decision, and a node that reported while ready counts as seen ready.
func TestRemoveRechecksUnderTheLock(t *testing.T) {
	now := testNow
	r := NewRegistry(func() time.Time { return now }, Liveness{Grace: time.Second, DefaultInterval: time.Second}, 16)
	p := nodegc.Policy{Down: 72 * time.Hour, Unready: 24 * time.Hour}
	attach := func(id string) *Session {
		s, _, err := r.Attach(&fleetv1.Hello{NodeId: id, InstanceId: "i-" + id, ReportInterval: durationpb.New(time.Second)}, "peer", func(error) {})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	junk, served, back := attach("junk"), attach("served"), attach("back")
	if _, _, err := r.ApplyReport(served, &fleetv1.MetricsReport{Seq: 1, Time: timestamppb.New(now)}); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*Session{junk, served, back} {
		r.Detach(s, "test")
	}
	if _, err := r.TakeDirty(); err != nil {
		t.Fatal(err)
	}
	w, _, err := r.Watch("", false)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Unwatch(w)

	if _, err := r.Remove("junk", p, now.Add(time.Hour)); !errors.Is(err, check.ErrFailedPrecondition) {
		t.Fatalf("remove a node gone 1h: %v, want ErrFailedPrecondition", err)
	}
	now = now.Add(25 * time.Hour)
	attach("back") // reconnected after the decision was made
	decided := p.Decide(r.GCNodes(), now)
	if len(decided) != 1 || decided[0].ID != "junk" {
		t.Fatalf("decided %+v with back connected and served seen ready; want junk alone", decided)
	}
	r.Detach(r.nodes["back"].sess, "test") // gone again, just now
	rm, err := r.Remove("junk", p, now)
	if err != nil || rm.Reason != nodegc.ReasonNeverReady {
		t.Fatalf("remove junk: %+v, %v", rm, err)
	}
	if _, err := r.Remove("back", p, now); !errors.Is(err, check.ErrFailedPrecondition) {
		t.Fatalf("remove back, which was connected a moment ago: %v, want ErrFailedPrecondition", err)
	}
	if _, err := r.Remove("served", p, now); !errors.Is(err, check.ErrFailedPrecondition) {
		t.Fatalf("remove served (seen ready, disconnected, not down): %v", err)
	}
	if _, err := r.Remove("junk", p, now); !errors.Is(err, check.ErrNodeNotFound) {
		t.Fatalf("remove junk twice: %v, want ErrNodeNotFound", err)
	}
	if r.Exists("junk") || len(r.List(&fleetv1.ListNodesRequest{Pool: check.DefaultPool})) != 2 {
		t.Fatal("junk still listed")
	}
	var removed *fleetv1.WatchNodesResponse
	for len(w.C) > 0 {
		if ev := <-w.C; ev.GetType() == fleetv1.NodeEventType_NODE_EVENT_TYPE_REMOVED {
			removed = ev
		}
	}
	if removed.GetNode().GetId() != "junk" {
		t.Fatalf("REMOVED event %v, want one for junk", removed)
	}
	recs, err := r.TakeDirty()
	if err != nil {
		t.Fatal(err)
	}
	if rec, ok := recs["junk"]; !ok || rec != nil {
		t.Fatalf("dirty records %v: want a nil tombstone for junk", recs)
	}
}

// TestLoadedLastReady: a stored node keeps its last_ready; one stored before the field existed
// that ever reported counts as ready at its last contact; one that never reported is not ready.
func TestLoadedLastReady(t *testing.T) {
	seen, ready := testNow.Add(-time.Hour), testNow.Add(-2*time.Hour)
	tests := []struct {
		name string
		n    *fleetv1.Node
		want time.Time
	}{
		{"stored last_ready", &fleetv1.Node{LastReady: timestamppb.New(ready), LastSeen: timestamppb.New(seen), ReportsReceived: 3}, ready},
		{"old record that reported", &fleetv1.Node{LastSeen: timestamppb.New(seen), ReportsReceived: 3}, seen},
		{"never reported", &fleetv1.Node{LastSeen: timestamppb.New(seen)}, time.Time{}},
	}
	for _, tt := range tests {
		if got := loadedLastReady(tt.n); !got.Equal(tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestLoadedNodeWithoutTimesIsKept: a stored node with no timestamps (its age unknown) is not
// taken for one last seen in 1970 and removed.
func TestLoadedNodeWithoutTimesIsKept(t *testing.T) {
	r := NewRegistry(func() time.Time { return testNow }, Liveness{Grace: time.Second, DefaultInterval: time.Second}, 16)
	r.Load([]*fleetv1.Node{{Id: "old", Pool: check.DefaultPool, State: fleetv1.NodeState_NODE_STATE_DOWN}})
	p := nodegc.Policy{Down: time.Hour, Unready: time.Hour}
	if got := p.Decide(r.GCNodes(), testNow.Add(1000*time.Hour)); len(got) != 0 {
		t.Fatalf("decided %+v for a node of unknown age", got)
	}
	if n, _ := r.Get("old"); n.GetLastSeen() != nil {
		t.Fatalf("last_seen %v for a node stored without one", n.GetLastSeen())
	}
}
