package reqstats

import (
	"testing"
	"time"
)

func TestSeries(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	minute := func(m int, requests, errors uint64, latencyMs ...float64) Window {
		w := Window{Start: t0.Add(time.Duration(m) * time.Minute), End: t0.Add(time.Duration(m+1) * time.Minute),
			Requests: requests, Errors: errors, Latency: NewSketch(DefaultRelativeAccuracy)}
		for _, l := range latencyMs {
			w.Latency.Add(l)
		}
		return w
	}
	tests := []struct {
		name     string
		ws       []Window
		from, to time.Time
		step     time.Duration
		want     []uint64 // requests per bucket
		wantRPS  []float64
	}{
		{"one minute buckets with a gap", []Window{minute(0, 60, 1, 10), minute(2, 120, 0, 20)}, t0, t0.Add(2 * time.Minute), time.Minute,
			[]uint64{60, 0, 120}, []float64{1, 0, 2}},
		{"nodes of one minute merge", []Window{minute(1, 30, 0, 10), minute(1, 30, 3, 30)}, t0.Add(time.Minute), t0.Add(time.Minute), time.Minute,
			[]uint64{60}, []float64{1}},
		{"five minute buckets", []Window{minute(0, 60, 0), minute(4, 60, 0), minute(5, 300, 0)}, t0, t0.Add(9 * time.Minute), 5 * time.Minute,
			[]uint64{120, 300}, []float64{0.4, 1}},
		{"from is truncated to the step, windows before it left out", []Window{minute(-1, 99, 0), minute(3, 60, 0)}, t0.Add(2 * time.Minute), t0.Add(4 * time.Minute), 5 * time.Minute,
			[]uint64{60}, []float64{0.2}},
		{"windows after to left out", []Window{minute(0, 60, 0), minute(7, 60, 0)}, t0, t0.Add(time.Minute), time.Minute,
			[]uint64{60, 0}, []float64{1, 0}},
		{"to before from", nil, t0, t0.Add(-time.Hour), time.Minute, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Series(tt.ws, tt.from, tt.to, tt.step)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("%d buckets, want %d: %+v", len(got), len(tt.want), got)
			}
			for i, b := range got {
				if b.Requests != tt.want[i] || b.RequestsPerSecond() != tt.wantRPS[i] {
					t.Errorf("bucket %d: %d requests at %g/s, want %d at %g/s", i, b.Requests, b.RequestsPerSecond(), tt.want[i], tt.wantRPS[i])
				}
				if wantStart := tt.from.Truncate(tt.step).Add(time.Duration(i) * tt.step); !b.Start.Equal(wantStart) || b.End.Sub(b.Start) != tt.step {
					t.Errorf("bucket %d spans [%s, %s), want from %s for %s", i, b.Start, b.End, wantStart, tt.step)
				}
			}
		})
	}
	t.Run("latency sketches merge", func(t *testing.T) {
		got, err := Series([]Window{minute(0, 1, 0, 10), minute(0, 1, 0, 1000)}, t0, t0, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if p99 := got[0].Latency.Quantile(0.99); p99 < 980 || p99 > 1020 {
			t.Errorf("p99 %g ms, want about 1000 (the slower node's request)", p99)
		}
	})
	t.Run("step must be positive", func(t *testing.T) {
		if _, err := Series(nil, t0, t0, 0); err == nil {
			t.Error("a zero step was accepted")
		}
	})
}
