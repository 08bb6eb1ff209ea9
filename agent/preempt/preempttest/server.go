// Package preempttest runs a metadata service on loopback that answers as EC2 (IMDSv2 with its
// session token), GCE and Azure do, for tests of interruption handling.
package preempttest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"time"
)

// Server is a fake metadata service. Its zero notice state answers "no notice" on every cloud.
type Server struct {
	*httptest.Server
	// Capacity is what the capacity-type paths answer: spot or on-demand.
	Capacity string
	// Polls counts notice polls, of every cloud.
	Polls  atomic.Int64
	polled chan struct{}

	mu       sync.Mutex
	deadline time.Time
	noticed  bool
	tokens   map[string]bool
	nextTok  int
}

// New starts a server on 127.0.0.1:0, stopped when the test ends through cleanup.
func New(cleanup func(func())) *Server {
	s := &Server{Capacity: "spot", tokens: map[string]bool{}, polled: make(chan struct{}, 1)}
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /latest/api/token", s.ec2Token)
	mux.HandleFunc("GET /latest/meta-data/instance-life-cycle", s.ec2Auth(func(w http.ResponseWriter) {
		w.Write([]byte(s.capacity("on-demand")))
	}))
	mux.HandleFunc("GET /latest/meta-data/spot/instance-action", s.ec2Auth(func(w http.ResponseWriter) {
		s.poll()
		d, ok := s.notice()
		if !ok {
			http.NotFound(w, nil)
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"action": "terminate", "time": d.UTC().Format(time.RFC3339)})
	}))
	mux.HandleFunc("GET /computeMetadata/v1/instance/scheduling/preemptible", s.gce(func(w http.ResponseWriter) {
		if s.Capacity == "spot" {
			w.Write([]byte("TRUE"))
		} else {
			w.Write([]byte("FALSE"))
		}
	}))
	mux.HandleFunc("GET /computeMetadata/v1/instance/preempted", s.gce(func(w http.ResponseWriter) {
		s.poll()
		if _, ok := s.notice(); ok {
			w.Write([]byte("TRUE"))
		} else {
			w.Write([]byte("FALSE"))
		}
	}))
	mux.HandleFunc("GET /metadata/instance/compute", s.azure(func(w http.ResponseWriter) {
		prio := "Regular"
		if s.Capacity == "spot" {
			prio = "Spot"
		}
		json.NewEncoder(w).Encode(map[string]string{"name": "vm-1", "priority": prio})
	}))
	mux.HandleFunc("GET /metadata/scheduledevents", s.azure(func(w http.ResponseWriter) {
		s.poll()
		events := []map[string]any{}
		if d, ok := s.notice(); ok {
			events = append(events, map[string]any{
				"EventId": "e-1", "EventType": "Preempt", "ResourceType": "VirtualMachine", "Resources": []string{"vm-1"},
				"EventStatus": "Scheduled", "NotBefore": d.UTC().Format(time.RFC1123), "DurationInSeconds": -1,
			})
		}
		json.NewEncoder(w).Encode(map[string]any{"DocumentIncarnation": 1, "Events": events})
	}))
	s.Server = httptest.NewServer(mux)
	cleanup(s.Close)
	return s
}

func (s *Server) poll() {
	s.Polls.Add(1)
	select {
	case s.polled <- struct{}{}:
	default:
	}
}

// WaitPolls waits until at least n notice polls arrived, false after timeout.
func (s *Server) WaitPolls(n int64, timeout time.Duration) bool {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for s.Polls.Load() < n {
		select {
		case <-s.polled:
		case <-t.C:
			return false
		}
	}
	return true
}

// Notify puts out a notice that the host goes away at deadline.
func (s *Server) Notify(deadline time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deadline, s.noticed = deadline, true
}

func (s *Server) notice() (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deadline, s.noticed
}

func (s *Server) capacity(onDemand string) string {
	if s.Capacity == "spot" {
		return "spot"
	}
	return onDemand
}

// ec2Token hands out an IMDSv2 session token to a PUT that asks for a TTL.
func (s *Server) ec2Token(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-aws-ec2-metadata-token-ttl-seconds") == "" {
		http.Error(w, "missing ttl header", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.nextTok++
	tok := "token-" + string(rune('a'+s.nextTok%26))
	s.tokens[tok] = true
	s.mu.Unlock()
	w.Write([]byte(tok))
}

// RevokeTokens makes every EC2 session token handed out so far invalid (401), as an expiry does.
func (s *Server) RevokeTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.tokens)
}

func (s *Server) ec2Auth(h func(http.ResponseWriter)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		ok := s.tokens[r.Header.Get("X-aws-ec2-metadata-token")]
		s.mu.Unlock()
		if !ok {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		h(w)
	}
}

func (s *Server) gce(h func(http.ResponseWriter)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Metadata-Flavor") != "Google" {
			http.Error(w, "missing Metadata-Flavor", http.StatusForbidden)
			return
		}
		h(w)
	}
}

func (s *Server) azure(h func(http.ResponseWriter)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Metadata") != "true" || r.URL.Query().Get("api-version") == "" {
			http.Error(w, "missing Metadata header or api-version", http.StatusBadRequest)
			return
		}
		h(w)
	}
}
