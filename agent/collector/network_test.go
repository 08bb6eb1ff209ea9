package collector

import (
	"maps"
	"testing"

	"github.com/shirou/gopsutil/v4/net"
)

func TestIsLoopback(t *testing.T) {
	for name, want := range map[string]bool{
		"lo": true, "lo0": true, "lo12": true,
		"eth0": false, "local0": false, "lo-br": false, "": false, "docker0": false, "wlo1": false,
	} {
		if got := isLoopback(name); got != want {
			t.Errorf("isLoopback(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestIsBridgeSide(t *testing.T) {
	for name, want := range map[string]bool{
		"veth1a2b": true, "docker0": true, "br-4f2a": true, "virbr0": true, "cni0": true, "cali12ab": true,
		"flannel.1": true, "eth0": false, "ens5": false, "bond0": false, "wlan0": false,
	} {
		if got := isBridgeSide(name); got != want {
			t.Errorf("isBridgeSide(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestNetCounters(t *testing.T) {
	// As read from /proc/net/dev on a container host.
	stats := []net.IOCountersStat{
		{Name: "lo", BytesRecv: 3521, BytesSent: 3521},
		{Name: "eth0", BytesRecv: 155724140, BytesSent: 988438},
		{Name: "ifb0"},
		{Name: "veth1a2b", BytesRecv: 10, BytesSent: 20},
		{Name: "docker0", BytesRecv: 10, BytesSent: 20},
		{Name: "br-4f2a", BytesRecv: 10, BytesSent: 20},
	}
	want := map[string]ioCounter{
		"eth0": {in: 155724140, out: 988438},
		"ifb0": {},
	}
	if got := netCounters(stats); !maps.Equal(got, want) {
		t.Errorf("netCounters = %v, want %v", got, want)
	}
}
