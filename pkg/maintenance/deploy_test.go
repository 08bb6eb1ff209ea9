package maintenance

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func spec(mut func(*DeploySpec)) DeploySpec {
	s := DeploySpec{Pool: "web", Version: "2.0", Strategy: Rolling}
	mut(&s)
	s.Defaults()
	return s
}

func TestDeploySpecValidate(t *testing.T) {
	nodes := []string{"a", "b", "c"}
	tests := []struct {
		name  string
		spec  DeploySpec
		nodes []string
		want  string // "" means valid
	}{
		{"rolling defaults", spec(func(*DeploySpec) {}), nodes, ""},
		{"empty pool", spec(func(s *DeploySpec) { s.Pool = "" }), nil, "spec.pool: is empty"},
		{"pool without nodes", spec(func(*DeploySpec) {}), nil, `spec.pool: pool "web" has no nodes`},
		{"no version", spec(func(s *DeploySpec) { s.Version = "" }), nodes, "spec.version"},
		{"bad strategy", spec(func(s *DeploySpec) { s.Strategy = "yolo" }), nodes, "spec.strategy"},
		{"batch below 1", spec(func(s *DeploySpec) { s.BatchSize = -1; s.MaxUnavailable = 1 }), nodes, "spec.batch_size: -1"},
		{"canary step above 100", spec(func(s *DeploySpec) { s.Strategy = Canary; s.CanaryPercent = []float64{10, 120} }), nodes, "spec.canary_percent[1]: 120"},
		{"canary step NaN", spec(func(s *DeploySpec) { s.Strategy = Canary; s.CanaryPercent = []float64{math.NaN()} }), nodes, "spec.canary_percent[0]"},
		{"canary steps not rising", spec(func(s *DeploySpec) { s.Strategy = Canary; s.CanaryPercent = []float64{50, 20} }), nodes, "spec.canary_percent[1]: 20 must be above"},
		{"canary as big as the pool", spec(func(s *DeploySpec) { s.Strategy = Canary; s.CanaryNodes = 3 }), nodes, "spec.canary_nodes"},
		{"canary ok", spec(func(s *DeploySpec) { s.Strategy = Canary; s.CanaryPercent = []float64{10, 50} }), nodes, ""},
		{"p95 ratio below 1", spec(func(s *DeploySpec) { s.P95RatioSet = true; s.MaxP95Ratio = 0.5 }), nodes, "spec.max_p95_ratio"},
		{"negative window", spec(func(s *DeploySpec) { s.AnalysisWindow = -time.Second }), nodes, "spec.analysis_window"},
		{"idle nodes on rolling", spec(func(s *DeploySpec) { s.IdleNodes = []string{"a"} }), nodes, "spec.idle_nodes: only a blue_green"},
		{"unknown idle node", spec(func(s *DeploySpec) { s.Strategy = BlueGreen; s.IdleNodes = []string{"z"} }), nodes, `spec.idle_nodes[0]: "z"`},
		{"idle set is the pool", spec(func(s *DeploySpec) { s.Strategy = BlueGreen; s.IdleNodes = nodes }), nodes, "live set would be empty"},
		{"blue green ok", spec(func(s *DeploySpec) { s.Strategy = BlueGreen; s.IdleNodes = []string{"c"} }), nodes, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.spec.Validate(tt.nodes)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want valid", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate = %v, want ErrInvalid containing %q", err, tt.want)
			}
		})
	}
}

func TestStart(t *testing.T) {
	tests := []struct {
		name                                                      string
		pending, inProgress, unavailable, batch, maxUnavail, want int
	}{
		{"first batch", 5, 0, 0, 2, 2, 2},
		{"batch full", 5, 2, 2, 2, 2, 0},
		{"one node of the pool already down", 5, 0, 1, 2, 2, 1},
		{"max unavailable below batch", 5, 0, 0, 3, 1, 1},
		{"fewer pending than batch", 1, 0, 0, 3, 3, 1},
		{"pool degraded past the limit", 5, 0, 3, 2, 2, 0},
	}
	for _, tt := range tests {
		if got := Start(tt.pending, tt.inProgress, tt.unavailable, tt.batch, tt.maxUnavail); got != tt.want {
			t.Errorf("%s: Start = %d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestCanaryWeight(t *testing.T) {
	// One canary against four baseline nodes of weight 1: 20 % of traffic is weight 1.
	if w := CanaryWeight(20, 1, 4); math.Abs(w-1) > 1e-9 {
		t.Fatalf("CanaryWeight(20, 1, 4) = %g, want 1", w)
	}
	// Two canaries taking 50 % of a baseline weighing 3: 1.5 each.
	if w := CanaryWeight(50, 2, 3); math.Abs(w-1.5) > 1e-9 {
		t.Fatalf("CanaryWeight(50, 2, 3) = %g, want 1.5", w)
	}
	for _, bad := range [][3]float64{{0, 1, 1}, {100, 1, 1}, {10, 0, 1}, {10, 1, 0}} {
		if w := CanaryWeight(bad[0], int(bad[1]), bad[2]); w != 0 {
			t.Errorf("CanaryWeight%v = %g, want 0", bad, w)
		}
	}
}

func TestJudge(t *testing.T) {
	s := spec(func(s *DeploySpec) { s.Strategy = Canary })
	ms := time.Millisecond
	tests := []struct {
		name             string
		canary, baseline Figures
		failed, enough   bool
		reason           string
	}{
		{"too few requests", Figures{Requests: 5, Errors: 5}, Figures{Requests: 100}, false, false, "5 of the 20"},
		{"errors", Figures{Requests: 40, Errors: 10}, Figures{Requests: 100, Errors: 1}, true, true, "canary error rate 25.0%"},
		{"slow", Figures{Requests: 40, P95: 300 * ms}, Figures{Requests: 100, P95: 100 * ms}, true, true, "p95 latency 300ms is above 1.50"},
		{"good", Figures{Requests: 40, Errors: 1, P95: 110 * ms}, Figures{Requests: 100, Errors: 2, P95: 100 * ms}, false, true, "vs baseline"},
		{"no baseline latency", Figures{Requests: 40, P95: 900 * ms}, Figures{Requests: 100}, false, true, ""},
	}
	for _, tt := range tests {
		v := s.Judge(tt.canary, tt.baseline)
		if v.Failed != tt.failed || v.Enough != tt.enough || !strings.Contains(v.Reason, tt.reason) {
			t.Errorf("%s: Judge = %+v", tt.name, v)
		}
	}
}

// FuzzDeploySpec feeds arbitrary specs to the validator: it never panics, and every error is
// ErrInvalid naming a spec field.
func FuzzDeploySpec(f *testing.F) {
	f.Add("web", "2.0", "canary", 1, 1, 1, 10.0, 50.0, int64(time.Minute), "a")
	f.Add("", "", "x", -1, 0, 5, 120.0, -1.0, int64(-1), "")
	f.Fuzz(func(t *testing.T, pool, version, strategy string, batch, maxU, canaryNodes int, p1, p2 float64, window int64, idle string) {
		s := DeploySpec{Pool: pool, Version: version, Strategy: Strategy(strategy), BatchSize: batch, MaxUnavailable: maxU,
			CanaryNodes: canaryNodes, CanaryPercent: []float64{p1, p2}, AnalysisWindow: time.Duration(window), IdleNodes: []string{idle}}
		s.Defaults()
		err := s.Validate([]string{"a", "b", "c"})
		if err != nil && (!errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "spec.")) {
			t.Fatalf("Validate error %v is not ErrInvalid naming a field", err)
		}
	})
}
