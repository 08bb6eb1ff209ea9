package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/dspyfleet/dspyfleet/pkg/throttle"
)

// The backoff of failed authentications past the free ones (--auth-failures-per-minute): the
// first wait, its cap, and how long after a wait ended a key that did not fail again is
// forgotten.
const (
	AuthBackoffBase   = time.Second
	AuthBackoffMax    = 5 * time.Minute
	AuthBackoffForget = time.Minute
)

// maxFailureRecords bounds the failure records kept; past it, forgotten records are dropped,
// then the one whose wait ends first.
const maxFailureRecords = 10000

// failFlag is the flag that sets the free failures, named in messages.
const failFlag = "--auth-failures-per-minute"

// failKey is one thing a failed authentication counts against: the bearer token presented (by
// a keyed fingerprint, never the token) or the peer host (an IPv6 host by its /64).
type failKey struct {
	// key is the record's key: "token:<fingerprint>" or "host:<address or prefix>".
	key string
	// what names it as the target of audit records: the host, or "token:<fingerprint>".
	what string
	// host is whether the key is a peer host's.
	host bool
}

// failureGuard slows down callers that fail authentication: past policy.Free failures in a row
// a key's next failures wait, doubling each time, before they are looked at. Only calls whose
// credential authenticates nothing reach it; a valid credential is never held back, whoever
// else failed from its address.
type failureGuard struct {
	policy throttle.Policy
	now    func() time.Time
	// secret keys the fingerprints of presented tokens; it is random per process, so a
	// fingerprint in the audit trail cannot be checked against guesses offline.
	secret []byte

	mu      sync.Mutex
	records map[string]throttle.Record
}

func newFailureGuard(free int, now func() time.Time) *failureGuard {
	secret := make([]byte, 32)
	_, _ = rand.Read(secret) // crypto/rand.Read never fails
	return &failureGuard{
		policy: throttle.Policy{Free: free, Base: AuthBackoffBase, Max: AuthBackoffMax, Forget: AuthBackoffForget},
		now:    now, secret: secret, records: map[string]throttle.Record{},
	}
}

// keys returns what a failure from host presenting token (given says whether one was) counts
// against.
func (g *failureGuard) keys(host, token string, given bool) []failKey {
	hk := host
	if a, err := netip.ParseAddr(host); err == nil && a.Is6() && !a.Is4In6() {
		p, _ := a.Prefix(64)
		hk = p.String()
	}
	keys := []failKey{{key: "host:" + hk, what: hk, host: true}}
	if given {
		m := hmac.New(sha256.New, g.secret)
		m.Write([]byte(token))
		fp := hex.EncodeToString(m.Sum(nil)[:6])
		keys = append(keys, failKey{key: "token:" + fp, what: "token:" + fp})
	}
	return keys
}

// wait returns the longest wait among keys and the key it is for; 0 means the failure is to
// be looked at and counted.
func (g *failureGuard) wait(keys []failKey) (time.Duration, failKey) {
	now := g.now()
	g.mu.Lock()
	defer g.mu.Unlock()
	var longest time.Duration
	var of failKey
	for _, k := range keys {
		if w := g.policy.Wait(g.records[k.key], now); w > longest {
			longest, of = w, k
		}
	}
	return longest, of
}

// fail counts a failure against every key and returns the keys whose throttling it started.
func (g *failureGuard) fail(keys []failKey) []failKey {
	if g.policy.Off() {
		return nil
	}
	now := g.now()
	g.mu.Lock()
	defer g.mu.Unlock()
	var started []failKey
	for _, k := range keys {
		r, ok := g.records[k.key]
		if !ok {
			g.makeRoomLocked(now)
		}
		r, start := g.policy.Fail(r, now)
		g.records[k.key] = r
		if start {
			started = append(started, k)
		}
	}
	return started
}

// makeRoomLocked drops records when the guard holds maxFailureRecords: the forgotten ones, or
// else the one whose wait ends first.
func (g *failureGuard) makeRoomLocked(now time.Time) {
	if len(g.records) < maxFailureRecords {
		return
	}
	var first string
	var firstUntil time.Time
	for k, r := range g.records {
		if g.policy.Expired(r, now) {
			delete(g.records, k)
			continue
		}
		if first == "" || r.Until.Before(firstUntil) {
			first, firstUntil = k, r.Until
		}
	}
	if len(g.records) >= maxFailureRecords {
		delete(g.records, first)
	}
}

// throttledError is the answer to a failed authentication whose key must still wait:
// ResourceExhausted with a RetryInfo detail and the wait in the message.
func (g *failureGuard) throttledError(k failKey, wait time.Duration) error {
	st := status.New(codes.ResourceExhausted, fmt.Sprintf(
		"too many failed authentications %s; retry in %s with a valid token (after %d failures in a row each failure waits %s, doubling up to %s; %s); valid credentials are never held back",
		k.subject(), retryIn(wait), g.policy.Free, AuthBackoffBase, AuthBackoffMax, failFlag))
	if d, err := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(wait)}); err == nil {
		st = d
	}
	return st.Err()
}

// startedError describes, for the audit trail, that a key's throttling started.
func (g *failureGuard) startedError(k failKey) error {
	return status.Errorf(codes.ResourceExhausted,
		"%d failed authentications in a row %s: its next failures wait %s, doubling up to %s, before they are looked at (%s); valid credentials are never held back",
		g.policy.Free, k.subject(), AuthBackoffBase, AuthBackoffMax, failFlag)
}

// subject names k after "failed authentications".
func (k failKey) subject() string {
	if k.host {
		return "from " + k.what
	}
	return "with the bearer token of fingerprint " + strings.TrimPrefix(k.what, "token:")
}

// retryDelay returns the RetryInfo delay of a throttled status, 0 for none.
func retryDelay(err error) time.Duration {
	for _, d := range status.Convert(err).Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			return ri.GetRetryDelay().AsDuration()
		}
	}
	return 0
}

// retryIn rounds a wait up to whole seconds for messages.
func retryIn(wait time.Duration) time.Duration {
	return (wait + time.Second - 1).Truncate(time.Second)
}
