package collector

import (
	"math"
	"testing"
	"time"
)

func TestRate(t *testing.T) {
	for _, tc := range []struct {
		name      string
		prev, cur uint64
		elapsed   time.Duration
		want      float64
	}{
		{"steady", 1000, 3000, 2 * time.Second, 1000},
		{"sub-second", 0, 500, 500 * time.Millisecond, 1000},
		{"idle", 42, 42, time.Second, 0},
		{"reset", 1 << 40, 10, time.Second, 0},
		{"wrap", math.MaxUint64 - 5, 5, time.Second, 0},
		{"zero elapsed", 0, 100, 0, 0},
		{"negative elapsed", 0, 100, -time.Second, 0},
		{"full range", 0, math.MaxUint64, time.Nanosecond, float64(math.MaxUint64) / time.Nanosecond.Seconds()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := rate(tc.prev, tc.cur, tc.elapsed); got != tc.want {
				t.Errorf("rate(%d, %d, %v) = %v, want %v", tc.prev, tc.cur, tc.elapsed, got, tc.want)
			}
		})
	}
}

func FuzzRate(f *testing.F) {
	f.Add(uint64(0), uint64(100), int64(time.Second))
	f.Add(uint64(100), uint64(0), int64(time.Second))
	f.Add(uint64(0), uint64(math.MaxUint64), int64(1))
	f.Add(uint64(0), uint64(1), int64(-1))
	f.Fuzz(func(t *testing.T, prev, cur uint64, elapsed int64) {
		got := rate(prev, cur, time.Duration(elapsed))
		if math.IsNaN(got) || math.IsInf(got, 0) || got < 0 {
			t.Fatalf("rate(%d, %d, %d) = %v", prev, cur, elapsed, got)
		}
	})
}

func TestSumRates(t *testing.T) {
	prev := map[string]ioCounter{
		"eth0": {in: 1000, out: 100},
		"eth1": {in: 5000, out: 5000},
		"gone": {in: 1, out: 1},
	}
	for _, tc := range []struct {
		name            string
		cur             map[string]ioCounter
		elapsed         time.Duration
		wantIn, wantOut float64
	}{
		{"both grow", map[string]ioCounter{"eth0": {3000, 300}, "eth1": {7000, 6000}}, 2 * time.Second, 2000, 600},
		{"new device ignored", map[string]ioCounter{"eth0": {3000, 300}, "veth9": {1 << 50, 1 << 50}}, 2 * time.Second, 1000, 100},
		{"one device reset", map[string]ioCounter{"eth0": {3000, 300}, "eth1": {10, 10}}, 2 * time.Second, 1000, 100},
		{"only out reset", map[string]ioCounter{"eth0": {3000, 50}}, 2 * time.Second, 1000, 0},
		{"no devices", nil, time.Second, 0, 0},
		{"no time", map[string]ioCounter{"eth0": {3000, 300}}, 0, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, out := sumRates(prev, tc.cur, tc.elapsed)
			if in != tc.wantIn || out != tc.wantOut {
				t.Errorf("sumRates = %v, %v; want %v, %v", in, out, tc.wantIn, tc.wantOut)
			}
		})
	}
}

func TestRateTracker(t *testing.T) {
	var tr rateTracker
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	steps := []struct {
		at              time.Time
		cur             map[string]ioCounter
		wantIn, wantOut float64
	}{
		{t0, map[string]ioCounter{"sda": {100, 200}}, 0, 0}, // first reading: no window yet
		{t0.Add(time.Second), map[string]ioCounter{"sda": {600, 1200}}, 500, 1000},
		{t0.Add(time.Second), map[string]ioCounter{"sda": {700, 1300}}, 0, 0},      // same time
		{t0, map[string]ioCounter{"sda": {800, 1400}}, 0, 0},                       // clock went back
		{t0.Add(4 * time.Second), map[string]ioCounter{"sda": {50, 2000}}, 0, 150}, // read counter reset
	}
	for i, s := range steps {
		in, out := tr.update(s.at, s.cur)
		if in != s.wantIn || out != s.wantOut {
			t.Errorf("step %d: update = %v, %v; want %v, %v", i, in, out, s.wantIn, s.wantOut)
		}
	}
}
