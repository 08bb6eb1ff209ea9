package auth

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestFailureGuardKeys: a failure counts against the peer host (an IPv6 host by its /64) and
// the presented token by a keyed fingerprint that shows nothing of the token; without a token
// only the host counts.
func TestFailureGuardKeys(t *testing.T) {
	g := newFailureGuard(3, time.Now)
	const tok = "some-bad-token-0123456789"
	for _, tc := range []struct {
		host, token string
		given       bool
		want        []string
	}{
		{"10.0.0.7", "", false, []string{"host:10.0.0.7"}},
		{"2001:db8:1:2:aaaa::1", "", false, []string{"host:2001:db8:1:2::/64"}},
		{"2001:db8:1:2:bbbb::9", "", false, []string{"host:2001:db8:1:2::/64"}},
		{"::ffff:10.0.0.7", "", false, []string{"host:::ffff:10.0.0.7"}},
		{"unknown", "", false, []string{"host:unknown"}},
		{"10.0.0.7", tok, true, []string{"host:10.0.0.7", "token:"}},
	} {
		keys := g.keys(tc.host, tc.token, tc.given)
		if len(keys) != len(tc.want) {
			t.Fatalf("%s: keys %v, want %v", tc.host, keys, tc.want)
		}
		for i, k := range keys {
			if !strings.HasPrefix(k.key, tc.want[i]) || tc.given && strings.Contains(k.key+k.what, tc.token) {
				t.Fatalf("%s: key %d is %+v, want %s", tc.host, i, k, tc.want[i])
			}
		}
	}
	a, b := g.keys("h", tok, true)[1], g.keys("h", tok+"x", true)[1]
	if a.key == b.key || a.key != g.keys("h", tok, true)[1].key || strings.Contains(a.key, tok[:8]) {
		t.Fatalf("fingerprints: %q and %q", a.key, b.key)
	}
	if other := newFailureGuard(3, time.Now).keys("h", tok, true)[1]; other.key == a.key {
		t.Fatal("two guards share a fingerprint key: fingerprints could be checked offline")
	}
}

// TestFailureGuardWaitsAndForgets: past the free failures a key waits, the longest wait of the
// keys wins, and a key is forgotten a minute after its wait ended.
func TestFailureGuardWaitsAndForgets(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	g := newFailureGuard(2, func() time.Time { return now })
	host, tokA, tokB := g.keys("10.0.0.7", "", false), g.keys("10.0.0.7", "a-token", true), g.keys("10.0.0.8", "a-token", true)
	if started := g.fail(tokA); len(started) != 0 {
		t.Fatalf("the first failure started %v", started)
	}
	if started := g.fail(tokA); len(started) != 2 {
		t.Fatalf("the second failure started %v, want the host and the token", started)
	}
	if w, k := g.wait(host); w != AuthBackoffBase || !k.host {
		t.Fatalf("the host waits %s (%+v)", w, k)
	}
	if w, k := g.wait(tokB); w != AuthBackoffBase || k.host {
		t.Fatalf("the token from another host waits %s (%+v), want the token's wait", w, k)
	}
	if w, _ := g.wait(g.keys("10.0.0.8", "b-token", true)); w != 0 {
		t.Fatalf("another token from another host waits %s", w)
	}
	now = now.Add(AuthBackoffBase)
	g.fail(tokA)
	if w, _ := g.wait(tokA); w != 2*AuthBackoffBase {
		t.Fatalf("after the third failure: wait %s", w)
	}
	now = now.Add(2*AuthBackoffBase + AuthBackoffForget)
	if started := g.fail(tokA); len(started) != 0 {
		t.Fatalf("a forgotten key's failure started %v", started)
	}
	if w, _ := g.wait(tokA); w != 0 {
		t.Fatalf("a forgotten key waits %s", w)
	}
}

// TestFailureGuardBounded: the guard keeps at most maxFailureRecords records, dropping the
// forgotten ones first.
func TestFailureGuardBounded(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	g := newFailureGuard(1, func() time.Time { return now })
	for i := range maxFailureRecords + 50 {
		g.fail(g.keys(fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255), "", false))
	}
	if n := len(g.records); n != maxFailureRecords {
		t.Fatalf("%d records, want %d", n, maxFailureRecords)
	}
	now = now.Add(AuthBackoffMax + AuthBackoffForget)
	g.fail(g.keys("192.168.0.1", "", false))
	if n := len(g.records); n != 1 {
		t.Fatalf("%d records after the others were forgotten, want 1", n)
	}
}
