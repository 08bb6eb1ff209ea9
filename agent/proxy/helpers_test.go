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

// recordingSink keeps every event it is given.
type recordingSink struct {
	mu     sync.Mutex
	events []reqstats.Event
}

func (s *recordingSink) Add(e reqstats.Event) {
	s.mu.Lock()
	s.events = append(s.events, e)
	s.mu.Unlock()
}

// all returns a copy of the events so far.
func (s *recordingSink) all() []reqstats.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]reqstats.Event(nil), s.events...)
}

// wait returns the events once there are n, failing the test after 5 s.
func (s *recordingSink) wait(t testing.TB, n int) []reqstats.Event {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		if ev := s.all(); len(ev) >= n {
			return ev
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %d events; have %d", n, len(s.all()))
		}
	}
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
