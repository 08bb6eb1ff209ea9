package collector

import (
	"context"
	"fmt"
	"math"
	"time"

	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
	"github.com/shirou/gopsutil/v4/host"
	"google.golang.org/protobuf/types/known/durationpb"
)

// uptimeCollector reports the time since boot.
type uptimeCollector struct{}

// Name implements Collector.
func (uptimeCollector) Name() string { return "uptime" }

// Collect implements Collector.
func (uptimeCollector) Collect(ctx context.Context, _ time.Time, m *fleetv1.HostMetrics) error {
	secs, err := host.UptimeWithContext(ctx)
	if err != nil {
		return fmt.Errorf("read uptime: %w", err)
	}
	d, err := uptimeDuration(secs)
	if err != nil {
		return err
	}
	m.Uptime = durationpb.New(d)
	return nil
}

// uptimeDuration converts an uptime in seconds to a Duration, refusing values that overflow it.
func uptimeDuration(secs uint64) (time.Duration, error) {
	if secs > math.MaxInt64/uint64(time.Second) {
		return 0, fmt.Errorf("impossible uptime of %d seconds", secs)
	}
	return time.Duration(secs) * time.Second, nil
}
