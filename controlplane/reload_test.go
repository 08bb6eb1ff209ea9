package controlplane_test

import (
	"strings"
	"testing"
	"time"

	"github.com/dspyfleet/dspyfleet/internal/fleettest"
)

// TestReload changes the node TTL of a running control plane: the next Hello is told the new
// deadline. An invalid configuration changes nothing, and settings that need a restart are named.
func TestReload(t *testing.T) {
	cfg := fleettest.FastConfig(t)
	cfg.NodeTTL, cfg.TTLGrace = 10*time.Second, time.Second
	cp := fleettest.StartControlPlane(t, cfg)
	downAfter := func(id string) time.Duration {
		s := open(t, cp)
		send(t, s, hello(id, id))
		m, err := s.Recv()
		if err != nil {
			t.Fatal(err)
		}
		return m.GetWelcome().GetDownAfter().AsDuration()
	}
	if got := downAfter("before"); got != 11*time.Second {
		t.Fatalf("down after %s before the reload", got)
	}
	next := cfg
	next.NodeTTL, next.TTLGrace, next.CommandRetention = 30*time.Second, 2*time.Second, time.Hour
	next.FlushInterval = time.Minute
	restart, err := cp.Server.Reload(next)
	if err != nil {
		t.Fatal(err)
	}
	if len(restart) != 1 || !strings.HasPrefix(restart[0], "--flush-interval") {
		t.Fatalf("need a restart: %q, want only --flush-interval", restart)
	}
	if got := downAfter("after"); got != 32*time.Second {
		t.Fatalf("down after %s after the reload, want 32s", got)
	}
	bad := next
	bad.NodeTTL, bad.TTLGrace = time.Minute, -time.Second
	if _, err := cp.Server.Reload(bad); err == nil || !strings.Contains(err.Error(), "--ttl-grace") {
		t.Fatalf("invalid reload: %v", err)
	}
	if got := downAfter("after-bad"); got != 32*time.Second {
		t.Fatalf("down after %s after a refused reload, want the previous 32s", got)
	}
}
