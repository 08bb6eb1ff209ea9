// Package collector samples host metrics (CPU, load, memory, swap, disks, network, uptime) with gopsutil.
//
// Each collector lives in its own file and fills its part of one fleetv1.HostMetrics. Stateful
// collectors (cpu, disk, network) keep their previous counters behind a mutex and report figures
// over the window between two calls. The arithmetic (busy share, rates, file system filtering)
// lives in pure functions tested on fixtures. A Sampler runs the collectors, records each one's
// outcome and duration, and guarantees that no figure in the sample is NaN, infinite, negative or
// an impossible percentage: such a figure is zeroed and reported as that collector's error.
package collector

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
	"google.golang.org/protobuf/types/known/durationpb"
)

// Collector fills its part of one host sample.
type Collector interface {
	// Name identifies the collector in CollectorStatus.
	Name() string
	// Collect writes the collector's figures into m. now is the sample time; rate collectors
	// measure their window from the previous call's now. On error the collector may have written
	// some valid figures and left the rest at zero.
	Collect(ctx context.Context, now time.Time, m *fleetv1.HostMetrics) error
}

// Default returns the standard collectors: cpu, load, memory, disk, network, uptime.
// Every call returns fresh collectors with no previous counters.
func Default() []Collector {
	return []Collector{
		newCPUCollector(),
		loadCollector{},
		memoryCollector{},
		&diskCollector{},
		&networkCollector{},
		uptimeCollector{},
	}
}

// Sampler runs collectors and records each one's success and duration in HostMetrics.Collectors.
// It is safe for concurrent use when its collectors are (the standard ones are).
type Sampler struct {
	collectors []Collector
}

// NewSampler returns a Sampler that runs cs in order.
func NewSampler(cs []Collector) *Sampler {
	return &Sampler{collectors: slices.Clone(cs)}
}

// Sample runs every collector (a failing one does not stop the others) and returns the sample.
// Every collector gets a CollectorStatus. A figure left NaN, infinite, negative or above 100 % by a
// collector is set to zero and turns that collector's status into a failure.
func (s *Sampler) Sample(ctx context.Context, now time.Time) *fleetv1.HostMetrics {
	m := &fleetv1.HostMetrics{}
	for _, c := range s.collectors {
		start := time.Now()
		err := c.Collect(ctx, now, m)
		if bad := sanitize(m); len(bad) > 0 {
			invalid := fmt.Errorf("invalid values set to 0: %s", strings.Join(bad, ", "))
			if err == nil {
				err = invalid
			} else {
				err = fmt.Errorf("%w; %w", err, invalid)
			}
		}
		st := &fleetv1.CollectorStatus{
			Name:     c.Name(),
			Success:  err == nil,
			Duration: durationpb.New(time.Since(start)),
		}
		if err != nil {
			st.Error = err.Error()
		}
		m.Collectors = append(m.Collectors, st)
	}
	return m
}

// sanitize zeroes every figure in m that is NaN, infinite, negative, or (for shares) above 100,
// drops an invalid uptime, and returns the names of the fields it changed.
func sanitize(m *fleetv1.HostMetrics) []string {
	var bad []string
	check := func(name string, v *float64, limit float64) {
		if !(*v >= 0 && *v <= limit) { // also true for NaN
			bad = append(bad, name)
			*v = 0
		}
	}
	check("cpu_percent", &m.CpuPercent, 100)
	check("load1", &m.Load1, math.MaxFloat64)
	check("load5", &m.Load5, math.MaxFloat64)
	check("load15", &m.Load15, math.MaxFloat64)
	check("memory_used_percent", &m.MemoryUsedPercent, 100)
	check("disk_read_bytes_per_second", &m.DiskReadBytesPerSecond, math.MaxFloat64)
	check("disk_write_bytes_per_second", &m.DiskWriteBytesPerSecond, math.MaxFloat64)
	check("network_rx_bytes_per_second", &m.NetworkRxBytesPerSecond, math.MaxFloat64)
	check("network_tx_bytes_per_second", &m.NetworkTxBytesPerSecond, math.MaxFloat64)
	for _, d := range m.Disks {
		check("disks["+d.GetMountpoint()+"].used_percent", &d.UsedPercent, 100)
	}
	if m.Uptime != nil && (m.Uptime.CheckValid() != nil || m.Uptime.AsDuration() < 0) {
		bad = append(bad, "uptime")
		m.Uptime = nil
	}
	return bad
}

// percent returns part as a share of whole, 0-100; a zero whole gives 0.
func percent(part, whole uint64) float64 {
	if whole == 0 {
		return 0
	}
	return min(100, float64(part)/float64(whole)*100)
}
