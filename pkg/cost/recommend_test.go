package cost

import (
	"math"
	"testing"
	"time"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-6 }

func TestRightSize(t *testing.T) {
	tab := testTable()
	cfg := DefaultRecConfig()
	tests := []struct {
		name string
		n    NodeUsage
		to   string
		save float64
	}{
		// 4 vCPU at 30 % needs 1.71 vCPU at 70 %; 16 GiB at 20 % needs 4 GiB at 80 %: m.large.
		{"xlarge to large", NodeUsage{Node: "n1", Host: Host{InstanceType: "m.xlarge"}, CPUP95: 30, MemP95: 20, HaveUsage: true, Requests: 1e6, UpHours: 168}, "m.large", 0.10 * 730},
		// 4 vCPU at 15 % needs 0.86 vCPU; 16 GiB at 15 % needs 3 GiB: m.medium.
		{"xlarge to medium", NodeUsage{Node: "n2", Host: Host{InstanceType: "m.xlarge"}, CPUP95: 15, MemP95: 15, HaveUsage: true, Requests: 1e6, UpHours: 168}, "m.medium", 0.15 * 730},
		// Spot: m.medium has no spot price, so m.large spot.
		{"spot stays spot", NodeUsage{Node: "n3", Host: Host{InstanceType: "m.xlarge", Purchase: Spot}, CPUP95: 15, MemP95: 15, HaveUsage: true, Requests: 1e6, UpHours: 168}, "m.large", 0.03 * 730},
		{"busy cpu", NodeUsage{Node: "n4", Host: Host{InstanceType: "m.xlarge"}, CPUP95: 55, MemP95: 10, HaveUsage: true, Requests: 1e6, UpHours: 168}, "", 0},
		{"no samples", NodeUsage{Node: "n5", Host: Host{InstanceType: "m.xlarge"}, Requests: 1e6, UpHours: 168}, "", 0},
		{"idle goes to idle", NodeUsage{Node: "n6", Host: Host{InstanceType: "m.xlarge"}, CPUP95: 1, MemP95: 1, HaveUsage: true, UpHours: 168}, "", 0},
		{"smallest already", NodeUsage{Node: "n7", Host: Host{InstanceType: "m.medium"}, CPUP95: 5, MemP95: 5, HaveUsage: true, Requests: 1e6, UpHours: 168}, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := RightSize([]NodeUsage{tt.n}, tab, cfg)
			if tt.to == "" {
				if len(got) != 0 {
					t.Fatalf("got %+v, want none", got)
				}
				return
			}
			if len(got) != 1 || got[0].ID != "right-size:"+tt.n.Node || !near(got[0].MonthlySavingsUSD, tt.save) {
				t.Fatalf("got %+v, want %s saving %v", got, tt.to, tt.save)
			}
			if want := "move node " + tt.n.Node + " from m.xlarge to " + tt.to; got[0].Summary != want {
				t.Fatalf("summary %q, want %q", got[0].Summary, want)
			}
		})
	}
}

func TestIdle(t *testing.T) {
	cfg := DefaultRecConfig()
	nodes := []NodeUsage{
		{Node: "idle", Host: Host{InstanceType: "m.large"}, Requests: 10, UpHours: 48},
		{Node: "busy", Host: Host{InstanceType: "m.large"}, Requests: 1000, UpHours: 48},
		{Node: "new", Host: Host{InstanceType: "m.large"}, Requests: 0, UpHours: 2},
		{Node: "unpriced", Host: Host{InstanceType: "x"}, Requests: 0, UpHours: 48},
	}
	got := Idle(nodes, testTable(), cfg)
	if len(got) != 1 || got[0].Subject != "idle" || !near(got[0].MonthlySavingsUSD, 0.10*730) {
		t.Fatalf("Idle = %+v", got)
	}
}

func TestSpotFor(t *testing.T) {
	nodes := []NodeUsage{
		{Node: "a1", Pool: "batch", Host: Host{InstanceType: "m.xlarge"}, Tolerant: true},
		{Node: "a2", Pool: "batch", Host: Host{InstanceType: "m.large"}, Tolerant: true},
		{Node: "a3", Pool: "batch", Host: Host{InstanceType: "m.large", Purchase: Spot}, Tolerant: true},
		{Node: "a4", Pool: "batch", Host: Host{InstanceType: "m.medium"}, Tolerant: true}, // no spot price
		{Node: "b1", Pool: "web", Host: Host{InstanceType: "m.xlarge"}},
	}
	got := SpotFor(nodes, testTable())
	if len(got) != 1 || got[0].ID != "spot:batch" || !near(got[0].MonthlySavingsUSD, (0.14+0.07)*730) || len(got[0].Evidence) != 3 {
		t.Fatalf("SpotFor = %+v", got)
	}
}

func TestReservedFor(t *testing.T) {
	cfg := DefaultRecConfig()
	cfg.ReservedMinHours = 4
	bs := []Baseline{
		{Pool: "web", InstanceType: "m.large", NodeHours: []float64{3, 5, 2.5, 4}},  // baseline 2
		{Pool: "web", InstanceType: "m.xlarge", NodeHours: []float64{0.5, 1, 1, 1}}, // baseline 0
		{Pool: "web", InstanceType: "m.medium", NodeHours: []float64{2, 2, 2, 2}},   // no reserved price
		{Pool: "new", InstanceType: "m.large", NodeHours: []float64{9, 9}},          // too little history
	}
	got := ReservedFor(bs, testTable(), cfg)
	if len(got) != 1 || got[0].ID != "reserved:web/m.large" || !near(got[0].MonthlySavingsUSD, 2*0.04*730) {
		t.Fatalf("ReservedFor = %+v", got)
	}
}

func TestCaching(t *testing.T) {
	cfg := DefaultRecConfig()
	cfg.Window = 7 * 24 * time.Hour
	ps := []ProgramUsage{
		// ratio 0.1; to 0.4 converts (0.4-0.1)/0.9 = 1/3 of misses: 168 USD/week × 1/3 × 730/168.
		{Program: "qa", Requests: 10000, CacheHits: 1000, CacheMisses: 9000, CostUSD: 168},
		{Program: "unique", Requests: 10000, CacheMisses: 10000, CostUSD: 168},                 // no repeats
		{Program: "cached", Requests: 10000, CacheHits: 5000, CacheMisses: 5000, CostUSD: 168}, // already fine
		{Program: "small", Requests: 10, CacheHits: 1, CacheMisses: 9, CostUSD: 1},
	}
	got := Caching(ps, cfg)
	if len(got) != 1 || got[0].Subject != "qa" || !near(got[0].MonthlySavingsUSD, 730.0/3) {
		t.Fatalf("Caching = %+v", got)
	}
}

func TestCheaperModels(t *testing.T) {
	cfg := DefaultRecConfig()
	cfg.Window = 24 * time.Hour
	ms := []ModelUsage{
		// big: 1M in, 1M out = 40 USD list; small: 4 USD: 90 % cut of 24 USD/day paid.
		{Model: "big", InputTokens: 1e6, OutputTokens: 1e6, CostUSD: 24},
		{Model: "small", InputTokens: 1e6, OutputTokens: 1e6, CostUSD: 4},
		{Model: "unlisted", InputTokens: 1e6, CostUSD: 2},
	}
	got := CheaperModels(ms, testTable(), cfg)
	if len(got) != 1 || got[0].Subject != "big" || !near(got[0].MonthlySavingsUSD, 24*0.9*730/24) {
		t.Fatalf("CheaperModels = %+v", got)
	}
}

func TestRecommendSortsAndDropsSmall(t *testing.T) {
	cfg := DefaultRecConfig()
	cfg.ReservedMinHours = 1
	cfg.MinMonthlySavingsUSD = 10
	ev := Evidence{
		Nodes: []NodeUsage{
			{Node: "idle", Pool: "p", Host: Host{InstanceType: "m.large"}, UpHours: 48},                                // 73
			{Node: "cheap-idle", Pool: "p", Host: Host{ExplicitHourly: 0.001}, UpHours: 48},                            // 0.73
			{Node: "big", Pool: "p", Host: Host{InstanceType: "m.xlarge"}, Tolerant: true, UpHours: 48, Requests: 1e5}, // spot 102.2
		},
		Baselines: []Baseline{{Pool: "p", InstanceType: "m.xlarge", NodeHours: []float64{1}}}, // 58.4
	}
	got := Recommend(ev, testTable(), cfg)
	var ids []string
	for _, r := range got {
		ids = append(ids, r.ID)
	}
	want := []string{"spot:p", "idle:idle", "reserved:p/m.xlarge"}
	if len(ids) != len(want) {
		t.Fatalf("Recommend = %v, want %v", ids, want)
	}
	for i := range want {
		if ids[i] != want[i] {
			t.Fatalf("Recommend = %v, want %v", ids, want)
		}
	}
}

func TestHistogramQuantile(t *testing.T) {
	var h Histogram
	if _, ok := h.Quantile(0.95); ok {
		t.Fatal("empty histogram has a quantile")
	}
	for i := range 100 {
		h.Add(float64(i + 1)) // 1..100
	}
	if got, _ := h.Quantile(0.95); got != 95 {
		t.Fatalf("p95 = %v, want 95", got)
	}
	h.Add(math.NaN())
	h.Add(-5)  // clamps to 0
	h.Add(250) // clamps to 100
	if got, _ := h.Quantile(0); got != 0 {
		t.Fatalf("p0 = %v, want the clamped 0", got)
	}
	var m Histogram
	m.Merge(h)
	m.Merge(h)
	if m.Count() != 2*h.Count() || h.Count() != 102 {
		t.Fatalf("counts %d, %d", m.Count(), h.Count())
	}
}
