package fleet

import (
	"testing"
	"time"
)

// testNow is the fixed time the registry tests start from.
var testNow = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func TestLivenessPolicy(t *testing.T) {
	p := Liveness{Grace: 5 * time.Second, FailoverTTL: time.Minute, DefaultInterval: 5 * time.Second}
	last := testNow
	tests := []struct {
		name     string
		policy   Liveness
		interval time.Duration
		want     time.Time
	}{
		{"3 × interval plus grace", p, time.Second, last.Add(3*time.Second + 5*time.Second)},
		{"default interval when none announced", p, 0, last.Add(15*time.Second + 5*time.Second)},
		{"fixed TTL wins", Liveness{NodeTTL: 7 * time.Second, Grace: time.Second}, time.Second, last.Add(8 * time.Second)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.policy.downAfter(last, tt.interval); !got.Equal(tt.want) {
				t.Fatalf("downAfter = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestLivenessAfterRestart(t *testing.T) {
	p := Liveness{Grace: 5 * time.Second, FailoverTTL: time.Minute, DefaultInterval: 5 * time.Second}
	start := testNow
	tests := []struct {
		name     string
		lastSeen time.Time
		want     time.Time
	}{
		{"long silent node still gets the failover TTL", start.Add(-time.Hour), start.Add(time.Minute)},
		{"recent node gets the failover TTL, not less", start.Add(-time.Second), start.Add(time.Minute)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := p.afterRestart(tt.lastSeen, time.Second, start); !got.Equal(tt.want) {
				t.Fatalf("afterRestart = %s, want %s", got, tt.want)
			}
		})
	}
	long := Liveness{NodeTTL: 5 * time.Minute, Grace: time.Second, FailoverTTL: time.Minute}
	if got, want := long.afterRestart(start, time.Second, start), start.Add(5*time.Minute+time.Second); !got.Equal(want) {
		t.Fatalf("TTL longer than failover: afterRestart = %s, want %s", got, want)
	}
}
