package collector

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
	"github.com/shirou/gopsutil/v4/cpu"
)

// cpuFirstWindow is how long the cpu collector measures on its first call, when it has no
// previous reading to compare with.
const cpuFirstWindow = 200 * time.Millisecond

// cpuCollector reports the CPU busy share since its previous call and the logical CPU count.
type cpuCollector struct {
	firstWindow time.Duration

	mu     sync.Mutex
	prev   cpu.TimesStat
	primed bool // prev holds a reading
}

func newCPUCollector() *cpuCollector {
	return &cpuCollector{firstWindow: cpuFirstWindow}
}

// Name implements Collector.
func (*cpuCollector) Name() string { return "cpu" }

// Collect implements Collector. The first call takes two readings firstWindow apart.
func (c *cpuCollector) Collect(ctx context.Context, _ time.Time, m *fleetv1.HostMetrics) error {
	n, err := cpu.CountsWithContext(ctx, true)
	if err != nil {
		return fmt.Errorf("count cpus: %w", err)
	}
	if n <= 0 || n > math.MaxUint32 {
		return fmt.Errorf("impossible logical cpu count %d", n)
	}
	m.CpuCount = uint32(n)

	c.mu.Lock()
	defer c.mu.Unlock()
	cur, err := totalTimes(ctx)
	if err != nil {
		return err
	}
	prev := c.prev
	if !c.primed {
		prev = cur
		t := time.NewTimer(c.firstWindow)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		if cur, err = totalTimes(ctx); err != nil {
			return err
		}
	}
	pct, err := busyPercent(prev, cur)
	if err != nil {
		return err
	}
	c.prev, c.primed = cur, true
	m.CpuPercent = pct
	return nil
}

// totalTimes reads the CPU times summed over all CPUs.
func totalTimes(ctx context.Context) (cpu.TimesStat, error) {
	ts, err := cpu.TimesWithContext(ctx, false)
	if err != nil {
		return cpu.TimesStat{}, fmt.Errorf("read cpu times: %w", err)
	}
	if len(ts) != 1 {
		return cpu.TimesStat{}, fmt.Errorf("read cpu times: got %d totals, want 1", len(ts))
	}
	return ts[0], nil
}

// errBadCPUTimes reports a CPU time reading that is NaN, infinite or negative.
var errBadCPUTimes = errors.New("impossible cpu times")

// busyPercent returns the share of CPU time spent busy between two cumulative readings, 0-100.
// Busy is everything but idle and iowait. Guest time is left out of the total because Linux
// already counts it in user and nice. A window with no elapsed CPU time, or counters that went
// backwards, gives 0; a busy delta larger than the total (idle counters running backwards, as
// some kernels do) is capped at 100.
func busyPercent(prev, cur cpu.TimesStat) (float64, error) {
	prevTotal, prevBusy, err := splitTimes(prev)
	if err != nil {
		return 0, err
	}
	curTotal, curBusy, err := splitTimes(cur)
	if err != nil {
		return 0, err
	}
	total, busy := curTotal-prevTotal, curBusy-prevBusy
	if !(total > 0) || busy <= 0 {
		return 0, nil
	}
	return min(100, busy/total*100), nil
}

// splitTimes returns the total and busy CPU seconds of one reading.
func splitTimes(t cpu.TimesStat) (total, busy float64, err error) {
	fields := []float64{t.User, t.Nice, t.System, t.Idle, t.Iowait, t.Irq, t.Softirq, t.Steal}
	for _, v := range append(fields, t.Guest, t.GuestNice) {
		if !(v >= 0) || math.IsInf(v, 1) {
			return 0, 0, fmt.Errorf("%w: %+v", errBadCPUTimes, t)
		}
	}
	for _, v := range fields {
		total += v
	}
	if math.IsInf(total, 1) { // a sum of finite values can still overflow
		return 0, 0, fmt.Errorf("%w: %+v", errBadCPUTimes, t)
	}
	return total, total - t.Idle - t.Iowait, nil
}
