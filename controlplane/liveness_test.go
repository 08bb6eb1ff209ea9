package controlplane

import (
	"testing"
	"time"
)

func TestLivenessPolicy(t *testing.T) {
	p := livenessPolicy{grace: 5 * time.Second, failoverTTL: time.Minute, defaultInterval: 5 * time.Second}
	last := testNow
	tests := []struct {
		name     string
		policy   livenessPolicy
		interval time.Duration
		want     time.Time
	}{
		{"3 × interval plus grace", p, time.Second, last.Add(3*time.Second + 5*time.Second)},
		{"default interval when none announced", p, 0, last.Add(15*time.Second + 5*time.Second)},
		{"fixed TTL wins", livenessPolicy{nodeTTL: 7 * time.Second, grace: time.Second}, time.Second, last.Add(8 * time.Second)},
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
	p := livenessPolicy{grace: 5 * time.Second, failoverTTL: time.Minute, defaultInterval: 5 * time.Second}
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
	long := livenessPolicy{nodeTTL: 5 * time.Minute, grace: time.Second, failoverTTL: time.Minute}
	if got, want := long.afterRestart(start, time.Second, start), start.Add(5*time.Minute+time.Second); !got.Equal(want) {
		t.Fatalf("TTL longer than failover: afterRestart = %s, want %s", got, want)
	}
}
