package preempt_test

import (
	"context"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/dspyfleet/dspyfleet/agent/preempt"
	"github.com/dspyfleet/dspyfleet/agent/preempt/preempttest"
)

func TestWatcherEveryCloud(t *testing.T) {
	for _, cloud := range preempt.Clouds {
		t.Run(cloud, func(t *testing.T) {
			srv := preempttest.New(t.Cleanup)
			w, err := preempt.New(preempt.Config{Cloud: cloud, URL: srv.URL, Interval: 10 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			ctx := t.Context()
			if c, err := w.CapacityType(ctx); err != nil || c != preempt.Spot {
				t.Fatalf("CapacityType = %q, %v; want spot", c, err)
			}
			if _, ok, err := w.Poll(ctx); ok || err != nil {
				t.Fatalf("Poll before a notice = %v, %v; want no notice", ok, err)
			}
			got := make(chan preempt.Notice, 1)
			var g errgroup.Group
			g.Go(func() error { return w.Run(ctx, func(n preempt.Notice) { got <- n }) })
			deadline := time.Now().Add(2 * time.Minute).Truncate(time.Second)
			srv.Notify(deadline)
			n := <-got
			if err := g.Wait(); err != nil {
				t.Fatal(err)
			}
			if n.Source != cloud {
				t.Errorf("source = %q, want %q", n.Source, cloud)
			}
			if cloud != preempt.GCE && !n.Deadline.Equal(deadline) {
				t.Errorf("deadline = %s, want %s", n.Deadline, deadline)
			}
			if cloud == preempt.GCE && n.Deadline.Sub(n.Seen) != 30*time.Second {
				t.Errorf("gce deadline %s after seen, want 30s", n.Deadline.Sub(n.Seen))
			}
		})
	}
}

func TestWatcherEC2RenewsRevokedToken(t *testing.T) {
	srv := preempttest.New(t.Cleanup)
	w, err := preempt.New(preempt.Config{Cloud: preempt.EC2, URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
	srv.RevokeTokens()
	srv.Notify(time.Now().Add(time.Minute))
	if _, ok, err := w.Poll(t.Context()); !ok || err != nil {
		t.Fatalf("Poll after the token was revoked = %v, %v; want the notice", ok, err)
	}
}

func TestWatcherOnDemand(t *testing.T) {
	srv := preempttest.New(t.Cleanup)
	srv.Capacity = "on-demand"
	for _, cloud := range preempt.Clouds {
		w, err := preempt.New(preempt.Config{Cloud: cloud, URL: srv.URL})
		if err != nil {
			t.Fatal(err)
		}
		if c, err := w.CapacityType(t.Context()); err != nil || c != preempt.OnDemand {
			t.Errorf("%s: CapacityType = %q, %v; want on_demand", cloud, c, err)
		}
	}
}

func TestWatcherRunStopsWithContext(t *testing.T) {
	srv := preempttest.New(t.Cleanup)
	w, err := preempt.New(preempt.Config{Cloud: preempt.Azure, URL: srv.URL, Interval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx, func(preempt.Notice) { t.Error("notice without one out") }) }()
	if !srv.WaitPolls(3, 10*time.Second) {
		t.Fatal("the watcher did not keep polling")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, c := range []preempt.Config{
		{Cloud: "ibm"},
		{Cloud: preempt.EC2, URL: "ftp://x"},
		{Cloud: preempt.GCE, URL: "http://"},
		{Cloud: preempt.Azure, Interval: time.Microsecond},
	} {
		if _, err := preempt.New(c); err == nil {
			t.Errorf("New(%+v) accepted", c)
		}
	}
}
