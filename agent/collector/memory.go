package collector

import (
	"context"
	"errors"
	"fmt"
	"time"

	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
	"github.com/shirou/gopsutil/v4/mem"
)

// memoryCollector reports physical memory and swap.
type memoryCollector struct{}

// Name implements Collector.
func (memoryCollector) Name() string { return "memory" }

// Collect implements Collector. Swap is optional: when it cannot be read the memory figures are
// still reported along with the error.
func (memoryCollector) Collect(ctx context.Context, _ time.Time, m *fleetv1.HostMetrics) error {
	vm, err := mem.VirtualMemoryWithContext(ctx)
	if err != nil {
		return fmt.Errorf("read memory: %w", err)
	}
	if err := setMemory(m, vm); err != nil {
		return err
	}
	sw, err := mem.SwapMemoryWithContext(ctx)
	if err != nil {
		return fmt.Errorf("read swap: %w", err)
	}
	return setSwap(m, sw)
}

// errBadMemory reports memory figures that cannot be true.
var errBadMemory = errors.New("impossible memory figures")

// setMemory copies vm into m after checking it: a zero total, or used or available above the
// total (an unsigned underflow in the source), is an error and leaves m unchanged.
func setMemory(m *fleetv1.HostMetrics, vm *mem.VirtualMemoryStat) error {
	if vm.Total == 0 || vm.Used > vm.Total || vm.Available > vm.Total {
		return fmt.Errorf("%w: total %d, used %d, available %d", errBadMemory, vm.Total, vm.Used, vm.Available)
	}
	m.MemoryTotalBytes = vm.Total
	m.MemoryUsedBytes = vm.Used
	m.MemoryAvailableBytes = vm.Available
	m.MemoryUsedPercent = percent(vm.Used, vm.Total)
	return nil
}

// setSwap copies sw into m after checking that used does not exceed the total.
func setSwap(m *fleetv1.HostMetrics, sw *mem.SwapMemoryStat) error {
	if sw.Used > sw.Total {
		return fmt.Errorf("%w: swap total %d, used %d", errBadMemory, sw.Total, sw.Used)
	}
	m.SwapTotalBytes = sw.Total
	m.SwapUsedBytes = sw.Used
	return nil
}
