package collector

import (
	"errors"
	"testing"

	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
	"github.com/shirou/gopsutil/v4/mem"
)

func TestSetMemory(t *testing.T) {
	for _, tc := range []struct {
		name        string
		vm          mem.VirtualMemoryStat
		wantErr     error
		wantPercent float64
	}{
		{"normal", mem.VirtualMemoryStat{Total: 1000, Used: 250, Available: 750}, nil, 25},
		{"full", mem.VirtualMemoryStat{Total: 1000, Used: 1000}, nil, 100},
		{"zero total", mem.VirtualMemoryStat{}, errBadMemory, 0},
		{"used underflowed", mem.VirtualMemoryStat{Total: 1000, Used: ^uint64(0) - 10, Available: 500}, errBadMemory, 0},
		{"available above total", mem.VirtualMemoryStat{Total: 1000, Used: 10, Available: 2000}, errBadMemory, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var m fleetv1.HostMetrics
			err := setMemory(&m, &tc.vm)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				if m.MemoryTotalBytes != 0 || m.MemoryUsedBytes != 0 {
					t.Errorf("figures written despite error: %v", &m)
				}
				return
			}
			if m.MemoryTotalBytes != tc.vm.Total || m.MemoryUsedBytes != tc.vm.Used ||
				m.MemoryAvailableBytes != tc.vm.Available || m.MemoryUsedPercent != tc.wantPercent {
				t.Errorf("got %v", &m)
			}
		})
	}
}

func TestSetSwap(t *testing.T) {
	for _, tc := range []struct {
		name    string
		sw      mem.SwapMemoryStat
		wantErr error
	}{
		{"no swap", mem.SwapMemoryStat{}, nil},
		{"some used", mem.SwapMemoryStat{Total: 100, Used: 40}, nil},
		{"used above total", mem.SwapMemoryStat{Total: 100, Used: 101}, errBadMemory},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var m fleetv1.HostMetrics
			err := setSwap(&m, &tc.sw)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if err == nil && (m.SwapTotalBytes != tc.sw.Total || m.SwapUsedBytes != tc.sw.Used) {
				t.Errorf("got %v", &m)
			}
		})
	}
}
