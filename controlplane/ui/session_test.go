package ui

import (
	"testing"
	"time"

	"github.com/dspyfleet/dspyfleet/controlplane/auth"
)

func TestSessionsExpire(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ss := newSessions(func() time.Time { return now }, time.Hour)
	s := ss.create("tok", auth.RoleRead)
	if s.id == "" || s.csrf == "" || s.id == s.csrf {
		t.Fatalf("session id %q and CSRF token %q: want two different random values", s.id, s.csrf)
	}
	if got, ok := ss.get(s.id); !ok || got.token != "tok" || got.role != auth.RoleRead {
		t.Fatalf("get a fresh session: %+v, %v", got, ok)
	}
	now = now.Add(time.Hour + time.Second)
	if _, ok := ss.get(s.id); ok {
		t.Error("a session past its TTL is still valid")
	}
	if _, ok := ss.get("no such id"); ok {
		t.Error("an unknown id has a session")
	}
	s = ss.create("tok", auth.RoleAdmin)
	ss.end(s.id)
	if _, ok := ss.get(s.id); ok {
		t.Error("an ended session is still valid")
	}
}

func TestSessionsBounded(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ss := newSessions(func() time.Time { return now }, time.Hour)
	first := ss.create("tok", auth.RoleRead)
	for range maxSessions {
		now = now.Add(time.Millisecond)
		ss.create("tok", auth.RoleRead)
	}
	if n := len(ss.byID); n != maxSessions {
		t.Errorf("%d sessions kept, want at most %d", n, maxSessions)
	}
	if _, ok := ss.get(first.id); ok {
		t.Error("the oldest session survived the bound")
	}
}
