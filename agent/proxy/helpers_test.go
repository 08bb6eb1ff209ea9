package proxy

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dspyfleet/dspyfleet/pkg/reqstats"
)

// quiet discards logs.
var quiet = slog.New(slog.DiscardHandler)

// recordingSink keeps every event it is given. Its zero value is ready to use.
type recordingSink struct {
	mu      sync.Mutex
	events  []reqstats.Event
	changed chan struct{} // closed and replaced by every Add; nil until a wait asks for it
}

func (s *recordingSink) Add(e reqstats.Event) {
	s.mu.Lock()
	s.events = append(s.events, e)
	if s.changed != nil {
		close(s.changed)
		s.changed = nil
	}
	s.mu.Unlock()
}

// all returns a copy of the events so far.
func (s *recordingSink) all() []reqstats.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]reqstats.Event(nil), s.events...)
}

// wait returns the events once there are n, woken by every Add, failing the test after 5 s.
func (s *recordingSink) wait(t testing.TB, n int) []reqstats.Event {
	t.Helper()
	timeout := time.NewTimer(5 * time.Second)
	defer timeout.Stop()
	for {
		s.mu.Lock()
		ev := append([]reqstats.Event(nil), s.events...)
		if s.changed == nil {
			s.changed = make(chan struct{})
		}
		changed := s.changed
		s.mu.Unlock()
		if len(ev) >= n {
			return ev
		}
		select {
		case <-changed:
		case <-timeout.C:
			t.Fatalf("timed out waiting for %d events; have %d", n, len(ev))
		}
	}
}

// fakeClock is a Config.Now that moves only when a test advances it, so tests time requests
// without waiting. It is safe for concurrent use.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

// newFakeClock returns a clock set to a fixed instant.
func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

// Now returns the clock's time.
func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock d forward.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// inFlight is a Tracker.
type inFlight struct{ n atomic.Int64 }

func (f *inFlight) Begin() func() {
	f.n.Add(1)
	return func() { f.n.Add(-1) }
}

// drainFlag is a DrainState.
type drainFlag struct{ atomic.Bool }

func (d *drainFlag) Draining() bool { return d.Load() }

// upstream starts a real HTTP server on loopback, closed when the test ends.
func upstream(t testing.TB, h http.HandlerFunc) *httptest.Server {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// testProxy is a running proxy with its collaborators.
type testProxy struct {
	*Proxy
	sink    *recordingSink
	tracker *inFlight
	drain   *drainFlag
	url     string // http://addr
	client  *http.Client
	stop    func() error // cancels Run and returns its error
}

// startProxy runs a proxy on 127.0.0.1:0 in front of up until the test ends (or stop).
func startProxy(t testing.TB, cfg Config, up string) *testProxy {
	t.Helper()
	cfg.Listen = "127.0.0.1:0"
	cfg.Upstream = up
	tp := &testProxy{sink: &recordingSink{}, tracker: &inFlight{}, drain: &drainFlag{}}
	p, err := New(cfg, tp.sink, tp.tracker, tp.drain, quiet)
	if err != nil {
		t.Fatal(err)
	}
	tp.Proxy = p
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	var once sync.Once
	var runErr error
	tp.stop = func() error {
		once.Do(func() {
			cancel()
			runErr = <-done
		})
		return runErr
	}
	tr := &http.Transport{DisableCompression: true}
	tp.client = &http.Client{Transport: tr, Timeout: 10 * time.Second}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		if err := tp.stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	tp.url = "http://" + p.Addr()
	return tp
}

// get fetches url and returns the response with its body read.
func get(t testing.TB, c *http.Client, url string) (*http.Response, string) {
	t.Helper()
	res, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, string(b)
}
