package agent

import (
	"testing"
	"time"
)

func TestBackoffDelay(t *testing.T) {
	const initial, max = 100 * time.Millisecond, 2 * time.Second
	tests := []struct {
		attempt int
		r       float64
		want    time.Duration
	}{
		{0, 0.999999, 99999900 * time.Nanosecond},
		{0, 0.5, 50 * time.Millisecond},
		{1, 0.5, 100 * time.Millisecond},
		{3, 0.5, 400 * time.Millisecond},
		{4, 1, 1600 * time.Millisecond},
		{5, 1, max},
		{50, 1, max},
		{1000, 0.5, max / 2},
		{7, 0, 0},
	}
	for _, tt := range tests {
		if got := backoffDelay(tt.attempt, initial, max, tt.r); got != tt.want {
			t.Errorf("backoffDelay(%d, r=%g) = %s, want %s", tt.attempt, tt.r, got, tt.want)
		}
	}
}
