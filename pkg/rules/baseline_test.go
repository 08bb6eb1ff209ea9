package rules

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestBaselineKeepsAnAnomalyOut: a 70 s spike of p95 7,100 ms over a steady 300 ms was absorbed by
// the baseline within 6 s, so `zscore("p95_ms") > 4` with `for: 20s` never fired; on steady traffic
// the z-score flapped over 4. The baseline leaves anomalous samples out (up to MaxFrozen in a row,
// then learns a lasting step), and z is measured in at least MinRelSD of the mean.
func TestBaselineKeepsAnAnomalyOut(t *testing.T) {
	o := DefaultBaselineOptions()
	const every = 5 * time.Second
	type phase struct {
		samples int
		level   float64
	}
	tests := []struct {
		name   string
		phases []phase
		// over4 is how many samples of the last phase must have z > 4, and of the first
		// phase's samples after warm-up how many may.
		lastOver4    func(n, samples int) bool
		steadyOver4  int
		wantAdaptsTo float64 // the mean at the end, within 5 %
	}{
		{"spike: every sample of 70 s anomalous", []phase{{400, 300}, {14, 7100}},
			func(n, samples int) bool { return n == samples }, 0, 300},
		{"step: anomalous for MaxFrozen samples, then the new normal", []phase{{400, 300}, {400, 600}},
			func(n, _ int) bool { return n >= int(o.MaxFrozen) && n < int(o.MaxFrozen)+40 }, 0, 600},
		{"steady with 2 % noise never over 4", []phase{{2000, 300}},
			func(n, _ int) bool { return n == 0 }, 0, 300},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			var b Baseline
			now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
			steadyOver4 := 0
			for i, ph := range tt.phases {
				over4 := 0
				for k := range ph.samples {
					x := ph.level * (1 + 0.02*(2*rng.Float64()-1))
					if b.Z(x, o.MinSamples, o.MinRelSD) > 4 {
						if i == len(tt.phases)-1 {
							over4++
						} else if k >= int(o.MinSamples) {
							steadyOver4++
						}
					}
					b = b.Learn(x, now, o.Alpha, o.MinSamples, o)
					now = now.Add(every)
				}
				if i == len(tt.phases)-1 && !tt.lastOver4(over4, ph.samples) {
					t.Errorf("last phase: %d of %d samples had z > 4", over4, ph.samples)
				}
			}
			if steadyOver4 != tt.steadyOver4 {
				t.Errorf("%d steady samples had z > 4, want %d", steadyOver4, tt.steadyOver4)
			}
			if d := b.Mean/tt.wantAdaptsTo - 1; d > 0.05 || d < -0.05 {
				t.Errorf("baseline mean %v at the end, want about %v", b.Mean, tt.wantAdaptsTo)
			}
		})
	}
}
