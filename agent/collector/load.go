package collector

import (
	"context"
	"fmt"
	"time"

	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
	"github.com/shirou/gopsutil/v4/load"
)

// loadCollector reports the 1, 5 and 15 minute load averages.
type loadCollector struct{}

// Name implements Collector.
func (loadCollector) Name() string { return "load" }

// Collect implements Collector.
func (loadCollector) Collect(ctx context.Context, _ time.Time, m *fleetv1.HostMetrics) error {
	avg, err := load.AvgWithContext(ctx)
	if err != nil {
		return fmt.Errorf("read load averages: %w", err)
	}
	m.Load1, m.Load5, m.Load15 = avg.Load1, avg.Load5, avg.Load15
	return nil
}
