package collector

import (
	"context"
	"fmt"
	"strings"
	"time"

	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
	"github.com/shirou/gopsutil/v4/net"
)

// networkCollector reports the network throughput since its previous call, loopback and the
// host side of container and VM bridges excluded (their bytes also cross a physical interface).
type networkCollector struct {
	io rateTracker
}

// Name implements Collector.
func (*networkCollector) Name() string { return "network" }

// Collect implements Collector. The first call reports no throughput: there is no window yet.
func (c *networkCollector) Collect(ctx context.Context, now time.Time, m *fleetv1.HostMetrics) error {
	stats, err := net.IOCountersWithContext(ctx, true)
	if err != nil {
		return fmt.Errorf("read network counters: %w", err)
	}
	m.NetworkRxBytesPerSecond, m.NetworkTxBytesPerSecond = c.io.update(now, netCounters(stats))
	return nil
}

// netCounters maps each non-loopback interface to its received and sent byte counters.
func netCounters(stats []net.IOCountersStat) map[string]ioCounter {
	out := make(map[string]ioCounter, len(stats))
	for _, s := range stats {
		if isLoopback(s.Name) || isBridgeSide(s.Name) {
			continue
		}
		out[s.Name] = ioCounter{in: s.BytesRecv, out: s.BytesSent}
	}
	return out
}

// bridgePrefixes name the host-side virtual interfaces of Docker, libvirt and common Kubernetes
// network plugins. Inside a container eth0 is a veth too, but keeps its name and is counted.
var bridgePrefixes = []string{"veth", "docker", "br-", "virbr", "cni", "cali", "flannel", "vxlan", "kube-", "tap"}

// isBridgeSide reports whether name is the host side of a container or VM network.
func isBridgeSide(name string) bool {
	for _, p := range bridgePrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// isLoopback reports whether name is a loopback interface: "lo" on Linux, "lo0" and the like
// on BSD and macOS.
func isLoopback(name string) bool {
	rest, ok := strings.CutPrefix(name, "lo")
	return ok && strings.Trim(rest, "0123456789") == ""
}
