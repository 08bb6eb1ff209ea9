package collector

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
	"github.com/shirou/gopsutil/v4/cpu"
)

func TestBusyPercent(t *testing.T) {
	base := cpu.TimesStat{CPU: "cpu-total", User: 100, System: 50, Idle: 800, Iowait: 50}
	add := func(f func(*cpu.TimesStat)) cpu.TimesStat {
		t := base
		f(&t)
		return t
	}
	for _, tc := range []struct {
		name      string
		prev, cur cpu.TimesStat
		want      float64
		wantErr   error
	}{
		{"half busy", base, add(func(t *cpu.TimesStat) { t.User += 30; t.System += 20; t.Idle += 50 }), 50, nil},
		{"all idle", base, add(func(t *cpu.TimesStat) { t.Idle += 100 }), 0, nil},
		{"iowait is not busy", base, add(func(t *cpu.TimesStat) { t.Iowait += 60; t.Idle += 20; t.User += 20 }), 20, nil},
		{"steal, irq, nice are busy", base, add(func(t *cpu.TimesStat) { t.Steal += 10; t.Irq += 5; t.Softirq += 5; t.Nice += 10; t.Idle += 70 }), 30, nil},
		{"guest already in user", base, add(func(t *cpu.TimesStat) { t.User += 50; t.Guest += 50; t.Idle += 50 }), 50, nil},
		{"fully busy", base, add(func(t *cpu.TimesStat) { t.User += 100 }), 100, nil},
		{"no time passed", base, base, 0, nil},
		{"counters went back", base, cpu.TimesStat{User: 1, Idle: 1}, 0, nil},
		{"idle went back", base, add(func(t *cpu.TimesStat) { t.User += 100; t.Idle -= 10 }), 100, nil},
		{"busy went back", base, add(func(t *cpu.TimesStat) { t.User -= 10; t.Idle += 100 }), 0, nil},
		{"nan", base, add(func(t *cpu.TimesStat) { t.User = math.NaN() }), 0, errBadCPUTimes},
		{"inf", add(func(t *cpu.TimesStat) { t.Idle = math.Inf(1) }), base, 0, errBadCPUTimes},
		{"negative", base, add(func(t *cpu.TimesStat) { t.Steal = -1 }), 0, errBadCPUTimes},
		{"negative guest", base, add(func(t *cpu.TimesStat) { t.Guest = -1 }), 0, errBadCPUTimes},
		{"sum overflows", base, add(func(t *cpu.TimesStat) { t.User = math.MaxFloat64; t.Idle = math.MaxFloat64 }), 0, errBadCPUTimes},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := busyPercent(tc.prev, tc.cur)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if math.Abs(got-tc.want) > 1e-9 {
				t.Errorf("busyPercent = %v, want %v", got, tc.want)
			}
		})
	}
}

func FuzzBusyPercent(f *testing.F) {
	f.Add(100.0, 50.0, 800.0, 50.0, 0.0, 130.0, 70.0, 850.0, 50.0, 0.0)
	f.Add(100.0, 50.0, 800.0, 50.0, 0.0, 1.0, 1.0, 1.0, 1.0, 0.0)
	f.Add(0.0, 0.0, 0.0, 0.0, 0.0, math.MaxFloat64, 0.0, 1.0, 0.0, 0.0)
	f.Fuzz(func(t *testing.T, u1, s1, i1, w1, g1, u2, s2, i2, w2, g2 float64) {
		prev := cpu.TimesStat{User: u1, System: s1, Idle: i1, Iowait: w1, Guest: g1}
		cur := cpu.TimesStat{User: u2, System: s2, Idle: i2, Iowait: w2, Guest: g2}
		got, err := busyPercent(prev, cur)
		if err == nil && !(got >= 0 && got <= 100) {
			t.Fatalf("busyPercent(%+v, %+v) = %v", prev, cur, got)
		}
	})
}

func TestCPUFirstCallHonoursContext(t *testing.T) {
	c := &cpuCollector{firstWindow: time.Hour}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Collect(ctx, time.Now(), &fleetv1.HostMetrics{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Collect with a cancelled context = %v, want context.Canceled", err)
	}
	if c.primed {
		t.Error("a cancelled first call primed the collector")
	}
}
