package backoff

import (
	"math"
	"testing"
	"time"
)

func TestStep(t *testing.T) {
	p := Policy{Initial: 100 * time.Millisecond, Max: 2 * time.Second}
	for _, tt := range []struct {
		n    int
		want time.Duration
	}{
		{-1, 100 * time.Millisecond},
		{0, 100 * time.Millisecond},
		{1, 200 * time.Millisecond},
		{4, 1600 * time.Millisecond},
		{5, 2 * time.Second},
		{1000, 2 * time.Second},
		{math.MaxInt, 2 * time.Second},
	} {
		if got := p.Step(tt.n); got != tt.want {
			t.Errorf("Step(%d) = %s, want %s", tt.n, got, tt.want)
		}
	}
	if got := (Policy{Initial: time.Second, Max: time.Millisecond}).Step(3); got != time.Second {
		t.Errorf("a Max below Initial: Step(3) = %s, want the initial 1s", got)
	}
	if got := (Policy{Initial: time.Second, Max: time.Duration(math.MaxInt64)}).Step(100); got <= 0 {
		t.Errorf("Step overflowed to %s", got)
	}
}

func TestJitter(t *testing.T) {
	p := Policy{Initial: 30 * time.Second, Max: 5 * time.Minute}
	for _, tt := range []struct {
		name     string
		got      time.Duration
		min, max time.Duration
	}{
		{"full, r=0", p.Full(3, 0), 0, 0},
		{"full, r=0.5", p.Full(1, 0.5), 30 * time.Second, 30 * time.Second},
		{"full, r→1", p.Full(10, 0.999999), 299 * time.Second, 5 * time.Minute},
		{"upper, r=0", p.Upper(0, 0), 15 * time.Second, 15 * time.Second},
		{"upper, r=0.5", p.Upper(1, 0.5), 45 * time.Second, 45 * time.Second},
		{"upper, r→1", p.Upper(40, 0.999999), 299 * time.Second, 5 * time.Minute},
	} {
		if tt.got < tt.min || tt.got > tt.max {
			t.Errorf("%s: %s, want %s..%s", tt.name, tt.got, tt.min, tt.max)
		}
	}
}
