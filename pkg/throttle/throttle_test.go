package throttle

import (
	"testing"
	"time"
)

var policy = Policy{Free: 3, Base: time.Second, Max: 8 * time.Second, Forget: time.Minute}

func TestDelay(t *testing.T) {
	for _, tc := range []struct {
		p    Policy
		n    int
		want time.Duration
	}{
		{policy, 0, 0},
		{policy, 2, 0},
		{policy, 3, time.Second},
		{policy, 4, 2 * time.Second},
		{policy, 5, 4 * time.Second},
		{policy, 6, 8 * time.Second},
		{policy, 7, 8 * time.Second},
		{policy, 1 << 20, 8 * time.Second},
		{Policy{Free: 1, Base: time.Second, Max: 5 * time.Minute}, 1000, 5 * time.Minute},
		{Policy{Free: 1, Base: time.Second, Max: time.Minute}, 1, time.Second},
		{Policy{Free: 1, Base: 3 * time.Second, Max: 5 * time.Second}, 2, 5 * time.Second},
		{Policy{Free: 0, Base: time.Second, Max: time.Minute}, 100, 0},
		{Policy{Free: 2}, 10, 0},
	} {
		if got := tc.p.Delay(tc.n); got != tc.want {
			t.Errorf("%+v Delay(%d) = %s, want %s", tc.p, tc.n, got, tc.want)
		}
	}
}

// TestBackoffGrows steps a fake clock: the failures before the Free-th need no wait, the
// Free-th starts one, and each failure after it (made as soon as the wait allows) doubles the
// wait up to the cap; only the Free-th reports that throttling started.
func TestBackoffGrows(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	var r Record
	wantWaits := []time.Duration{0, 0, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second}
	for i, want := range wantWaits {
		if w := policy.Wait(r, now); w != 0 {
			t.Fatalf("failure %d: still %s to wait", i+1, w)
		}
		var started bool
		r, started = policy.Fail(r, now)
		if started != (i == 2) {
			t.Fatalf("failure %d: started %v", i+1, started)
		}
		if got := policy.Wait(r, now); got != want {
			t.Fatalf("after failure %d: wait %s, want %s", i+1, got, want)
		}
		if want > 0 {
			if got := policy.Wait(r, now.Add(want-time.Millisecond)); got != time.Millisecond {
				t.Fatalf("after failure %d: %s before the end the wait is %s", i+1, want-time.Millisecond, got)
			}
		}
		now = now.Add(want)
	}
}

// TestForget: a key that stops failing for Forget after its wait ended starts afresh; one that
// fails again sooner keeps its count.
func TestForget(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	var r Record
	for range 5 {
		r, _ = policy.Fail(r, now)
	}
	if got := policy.Wait(r, now); got != 4*time.Second {
		t.Fatalf("wait after 5 failures: %s", got)
	}
	if policy.Expired(r, now.Add(4*time.Second+59*time.Second)) {
		t.Fatal("forgotten before a minute passed after the wait")
	}
	soon, _ := policy.Fail(r, now.Add(30*time.Second))
	if soon.Failures != 6 || policy.Wait(soon, now.Add(30*time.Second)) != 8*time.Second {
		t.Fatalf("a failure within the minute: %+v", soon)
	}
	later := now.Add(4*time.Second + time.Minute)
	if !policy.Expired(r, later) {
		t.Fatal("not forgotten a minute after the wait ended")
	}
	fresh, started := policy.Fail(r, later)
	if fresh.Failures != 1 || started || policy.Wait(fresh, later) != 0 {
		t.Fatalf("the failure after being forgotten: %+v, started %v", fresh, started)
	}
	if !policy.Expired(Record{}, now) {
		t.Fatal("an empty record is not expired")
	}
}

func TestOff(t *testing.T) {
	off := Policy{Base: time.Second, Max: time.Minute, Forget: time.Minute}
	now := time.Unix(1_700_000_000, 0)
	var r Record
	for range 100 {
		var started bool
		if r, started = off.Fail(r, now); started {
			t.Fatal("an off policy started throttling")
		}
	}
	if w := off.Wait(r, now); w != 0 {
		t.Fatalf("an off policy waits %s", w)
	}
}
