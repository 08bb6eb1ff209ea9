package proxy

import (
	"testing"
)

// portList is a fixed set of live instances.
type portList []int

func (p portList) Ports() []int { return p }

func TestBalancerPicksTheLeastBusyInstance(t *testing.T) {
	b := newBalancer(portList{8000, 8001, 8002}, "127.0.0.1")
	held := map[string]int{}
	var picks []*upstreamPort
	for range 6 {
		u := b.pick()
		held[u.addr]++
		picks = append(picks, u)
	}
	for _, addr := range []string{"127.0.0.1:8000", "127.0.0.1:8001", "127.0.0.1:8002"} {
		if held[addr] != 2 {
			t.Errorf("6 requests in flight over 3 idle instances: %s has %d (all %v), want 2 each", addr, held[addr], held)
		}
	}
	// Two of 8000's requests end: the next two go there, the others still hold two each.
	for _, u := range picks {
		if u.addr == "127.0.0.1:8000" {
			b.done(u)
		}
	}
	for range 2 {
		if u := b.pick(); u.addr != "127.0.0.1:8000" {
			t.Errorf("picked %s with 8000 the least busy", u.addr)
		}
	}

	empty := newBalancer(portList(nil), "127.0.0.1")
	if u := empty.pick(); u != nil {
		t.Errorf("no live instance picked %s; want the configured upstream", u.addr)
	}
}

func TestBalancerFollowsTheLiveSet(t *testing.T) {
	live := &portList{8000, 8001}
	b := newBalancer(livePorts{live}, "::1")
	if u := b.pick(); u.addr != "[::1]:8001" && u.addr != "[::1]:8000" {
		t.Fatalf("picked %s", u.addr)
	}
	*live = portList{8002}
	for range 3 {
		if u := b.pick(); u.addr != "[::1]:8002" {
			t.Errorf("after the set changed to 8002, picked %s", u.addr)
		}
	}
}

// livePorts reads a set that changes.
type livePorts struct{ p *portList }

func (l livePorts) Ports() []int { return *l.p }
