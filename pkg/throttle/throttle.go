package throttle

import (
	"time"

	"github.com/dspyfleet/dspyfleet/pkg/backoff"
)

// Policy is how failures are answered.
type Policy struct {
	// Free is how many failures in a row may be made without waiting: the Free-th failure
	// starts the first wait. 0 or less turns throttling off.
	Free int
	// Base is the wait after the Free-th failure; each further failure doubles it.
	Base time.Duration
	// Max caps the wait.
	Max time.Duration
	// Forget is how long after its last wait ended a record that did not fail again is
	// forgotten: its next failure counts as the first.
	Forget time.Duration
}

// Record is what a policy keeps about one key (a credential, a peer host).
type Record struct {
	// Failures is how many failures the record counts.
	Failures int
	// Until is when the wait of the last failure ends; failures before it are refused unseen.
	Until time.Time
}

// Off reports whether the policy never throttles.
func (p Policy) Off() bool { return p.Free <= 0 }

// Delay is the wait after the n-th failure in a row: none before the Free-th, then Base,
// 2×Base, 4×Base, … capped at Max.
func (p Policy) Delay(n int) time.Duration {
	if p.Off() || n < p.Free || p.Base <= 0 {
		return 0
	}
	return backoff.Policy{Initial: p.Base, Max: p.Max}.Step(n - p.Free)
}

// Wait is how long a key with record r must still wait at now before its next failure is looked
// at; 0 means at once.
func (p Policy) Wait(r Record, now time.Time) time.Duration {
	if p.Off() || !now.Before(r.Until) {
		return 0
	}
	return r.Until.Sub(now)
}

// Expired reports whether r is forgotten at now: it may be dropped, and its next failure counts
// as the first.
func (p Policy) Expired(r Record, now time.Time) bool {
	return r.Failures == 0 || now.Sub(r.Until) >= p.Forget
}

// Fail returns r after one more failure at now, and whether that failure started the key's
// throttling (the Free-th failure in a row, the moment worth reporting once).
func (p Policy) Fail(r Record, now time.Time) (Record, bool) {
	if p.Expired(r, now) {
		r = Record{}
	}
	r.Failures++
	d := p.Delay(r.Failures)
	r.Until = now.Add(d)
	return r, d > 0 && p.Delay(r.Failures-1) == 0
}
