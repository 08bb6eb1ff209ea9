package intake

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
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
	changed chan struct{} // closed and replaced by every Add; nil until first asked for
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

// waitLen waits until the sink holds exactly n events, woken by every Add, and fails the test
// if it does not within 5 s.
func (s *recordingSink) waitLen(t testing.TB, n int, what string) {
	t.Helper()
	timeout := time.NewTimer(5 * time.Second)
	defer timeout.Stop()
	for {
		s.mu.Lock()
		have := len(s.events)
		if s.changed == nil {
			s.changed = make(chan struct{})
		}
		changed := s.changed
		s.mu.Unlock()
		if have == n {
			return
		}
		select {
		case <-changed:
		case <-timeout.C:
			t.Fatalf("timed out waiting for %s: the sink has %d events, want %d", what, have, n)
		}
	}
}

// countingSink counts events and keeps nothing.
type countingSink struct {
	mu sync.Mutex
	n  int
}

func (s *countingSink) Add(reqstats.Event) {
	s.mu.Lock()
	s.n++
	s.mu.Unlock()
}

// newIntake returns an intake on 127.0.0.1:0 (not yet running) with cfg's other settings.
func newIntake(t testing.TB, cfg Config, sink Sink) *Intake {
	t.Helper()
	if cfg.Listen == "" && cfg.Socket == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	in, err := New(cfg, sink, quiet)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// start runs in until the test ends and returns once it is listening.
func start(t testing.TB, in *Intake) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- in.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	in.Addr()
}

// post sends body through in's handler.
func post(in *Intake, contentType, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/v1/requests", strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	in.Handler().ServeHTTP(rec, req)
	return rec
}

// readAll reads a response body.
func readAll(t testing.TB, r io.Reader) string {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
