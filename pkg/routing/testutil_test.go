package routing

import (
	"fmt"
	"time"
)

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// readyNodes returns n ready nodes n00, n01, … with addresses and weight 1.
func readyNodes(n int) []Node {
	out := make([]Node, n)
	for i := range out {
		out[i] = Node{ID: fmt.Sprintf("n%02d", i), Address: fmt.Sprintf("10.0.0.%d:8000", i+1), Weight: 1,
			State: "ready", Ready: true, Counted: true, ReportSeq: 1}
	}
	return out
}

// policy returns the default policy with strategy s and slow start off.
func policy(s Strategy) Policy {
	p := DefaultPolicy()
	p.Strategy = s
	p.SlowStart = 0
	return p
}

// newPool returns a pool with policy p over nodes at t0.
func newPool(p Policy, nodes []Node) *Pool {
	pl := NewPool(p, 1)
	pl.Update(nodes, t0)
	return pl
}

// mustPick picks or panics.
func mustPick(p *Pool, key string) Pick {
	pk, err := p.Pick(key)
	if err != nil {
		panic(err)
	}
	return pk
}
