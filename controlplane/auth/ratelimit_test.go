package auth

import (
	"testing"
	"time"
)

// TestFailureGuard: a peer may fail perMinute times at once; then it is blocked (its right
// credentials too, since blocked is checked first) until the allowance refills, evenly over a
// minute. Other peers are not affected.
func TestFailureGuard(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	g := &failureGuard{spec: bucketSpec{rate: 3.0 / 60, burst: 3}, now: func() time.Time { return now }}
	for i := range 3 {
		if g.blocked("a") {
			t.Fatalf("blocked after %d failures", i)
		}
		within, exhausted := g.fail("a")
		if !within || exhausted != (i == 2) {
			t.Fatalf("failure %d: within %v, exhausted %v", i, within, exhausted)
		}
	}
	if !g.blocked("a") || g.blocked("b") {
		t.Fatal("want a blocked, b not")
	}
	now = now.Add(19 * time.Second)
	if !g.blocked("a") {
		t.Fatal("a let in before a failure's worth refilled")
	}
	now = now.Add(2 * time.Second)
	if g.blocked("a") {
		t.Fatal("a still blocked after 21s")
	}
	if within, exhausted := g.fail("a"); !within || !exhausted {
		t.Fatalf("the refilled failure: within %v, exhausted %v", within, exhausted)
	}
	off := &failureGuard{now: time.Now}
	if within, _ := off.fail("a"); !within || off.blocked("a") {
		t.Fatal("a zero allowance must mean no limit")
	}
}
