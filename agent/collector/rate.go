package collector

import (
	"sync"
	"time"
)

// rate returns the per-second increase of a cumulative counter read as prev and then as cur,
// elapsed apart. A counter that went backwards (reset or wrap) or a non-positive elapsed time
// gives 0 for the window: never a negative or huge figure.
func rate(prev, cur uint64, elapsed time.Duration) float64 {
	if elapsed <= 0 || cur < prev {
		return 0
	}
	return float64(cur-prev) / elapsed.Seconds()
}

// ioCounter is one device's pair of cumulative byte counters: read and written for a block
// device, received and sent for a network interface.
type ioCounter struct {
	in, out uint64
}

// sumRates returns the per-second rates of in and out summed over the devices present in both
// prev and cur. A device that appeared or vanished during the window contributes nothing, so
// interfaces and disks that come and go (container veths, USB disks) do not produce spikes.
func sumRates(prev, cur map[string]ioCounter, elapsed time.Duration) (in, out float64) {
	for name, c := range cur {
		p, ok := prev[name]
		if !ok {
			continue
		}
		in += rate(p.in, c.in, elapsed)
		out += rate(p.out, c.out, elapsed)
	}
	return in, out
}

// rateTracker remembers the previous counters of a set of devices and turns each new reading
// into rates over the window since the previous one. It is safe for concurrent use.
type rateTracker struct {
	mu   sync.Mutex
	prev map[string]ioCounter // the previous reading; empty before the first
	at   time.Time
}

// update records cur, read at now, and returns the summed rates since the previous reading.
// The first reading gives 0, 0: there is no window yet.
func (t *rateTracker) update(now time.Time, cur map[string]ioCounter) (in, out float64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.prev != nil {
		in, out = sumRates(t.prev, cur, now.Sub(t.at))
	}
	t.prev, t.at = cur, now
	return in, out
}
