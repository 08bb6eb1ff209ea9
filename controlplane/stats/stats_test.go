package stats

import (
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dspyfleet/dspyfleet/controlplane/store"
	"github.com/dspyfleet/dspyfleet/pkg/reqstats"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// TestReadersKeepWhatTheyRead: a window read by a reconcile step is not changed by reports that
// arrive after it (the rollups are copied on write), and the next read sees them. Run with -race,
// readers and writers overlap.
func TestReadersKeepWhatTheyRead(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 30, 0, time.UTC)
	st, err := store.Open(t.TempDir(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s := NewRequests(func() time.Time { return now }, st, 24*time.Hour)
	report := func(n uint64) *fleetv1.MetricsReport {
		return &fleetv1.MetricsReport{Time: timestamppb.New(now), App: &fleetv1.AppMetrics{Requests: n}}
	}
	requests := func(byNode map[string][]reqstats.Window) (n uint64) {
		for _, ws := range byNode {
			for _, w := range ws {
				n += w.Requests
			}
		}
		return n
	}
	if err := s.Add("web", "n1", report(3)); err != nil {
		t.Fatal(err)
	}
	first, err := s.Window("web", now.Add(-time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	between := map[RollupKey]reqstats.Window{}
	if err := s.EachRollupBetween(now.Unix()/60, now.Unix()/60, 0, func(k RollupKey, w reqstats.Window) { between[k] = w }); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for range 50 {
			if err := s.Add("web", "n1", report(1)); err != nil {
				t.Error(err)
			}
		}
	})
	wg.Go(func() {
		for range 50 {
			if _, err := s.Window("web", now.Add(-time.Minute)); err != nil {
				t.Error(err)
			}
		}
	})
	wg.Wait()
	if got := requests(first); got != 3 {
		t.Fatalf("the window read before 50 more reports holds %d requests, want 3", got)
	}
	if got := between[RollupKey{Minute: now.Unix() / 60, Pool: "web", Node: "n1"}].Requests; got != 3 {
		t.Fatalf("the rollups read before 50 more reports hold %d requests, want 3", got)
	}
	later, err := s.Window("web", now.Add(-time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if got := requests(later); got != 53 {
		t.Fatalf("a window read after them holds %d requests, want 53", got)
	}
}
