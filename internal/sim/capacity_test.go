package sim

import (
	"testing"
	"time"
)

func TestCapacity(t *testing.T) {
	c := Capacity{RPS: 10, BaseLatency: 100 * time.Millisecond, MaxSlowdown: 10, BaseErrorRate: 0.01}
	tests := []struct {
		name          string
		rps, weight   float64
		wantU         float64
		wantLatency   time.Duration
		wantErrorRate float64
		wantCPU       float64
	}{
		{"idle", 0, 1, 0, 100 * time.Millisecond, 0.01, 5},
		{"half", 5, 1, 0.5, 200 * time.Millisecond, 0.01, 50},
		{"weight doubles capacity", 10, 2, 0.5, 200 * time.Millisecond, 0.01, 50},
		{"zero weight counts as 1", 5, 0, 0.5, 200 * time.Millisecond, 0.01, 50},
		{"near saturation is capped", 9.99, 1, 0.999, time.Second, 0.01, 94.91},
		{"overload sheds the excess", 20, 1, 2, time.Second, 0.01 + 0.5*0.99, 98},
		{"negative rate is idle", -3, 1, 0, 100 * time.Millisecond, 0.01, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := c.Utilization(tt.rps, tt.weight)
			if !near(u, tt.wantU) {
				t.Errorf("Utilization = %v, want %v", u, tt.wantU)
			}
			if got := c.Latency(u); got != tt.wantLatency {
				t.Errorf("Latency = %v, want %v", got, tt.wantLatency)
			}
			if got := c.ErrorRate(u); !near(got, tt.wantErrorRate) {
				t.Errorf("ErrorRate = %v, want %v", got, tt.wantErrorRate)
			}
			if got := c.CPUPercent(u); !near(got, tt.wantCPU) {
				t.Errorf("CPUPercent = %v, want %v", got, tt.wantCPU)
			}
		})
	}
}

func near(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }
