package agent

import (
	"context"
	"time"
)

// backoffDelay is the wait before reconnect attempt number attempt (0-based): exponential from
// initial, capped at max, with full jitter (r is uniform in [0, 1)).
func backoffDelay(attempt int, initial, max time.Duration, r float64) time.Duration {
	d := initial
	for i := 0; i < attempt && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	return time.Duration(r * float64(d))
}

// sleepCtx waits for d or until ctx ends, reporting whether the full wait happened.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
