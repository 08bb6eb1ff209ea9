package scaling

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

// bare is a policy with no stabilization, rate limit or cooldown, so the formula shows through.
func bare(minNodes, maxNodes int, targets ...Target) Policy {
	p := DefaultPolicy(minNodes, maxNodes)
	p.Targets = targets
	p.ScaleUp = Behavior{}
	p.ScaleDown = Behavior{}
	return p
}

func snapAt(at time.Duration, cur, ready int, obs map[Metric]float64) Snapshot {
	return Snapshot{Now: t0.Add(at), Current: cur, Ready: ready, Observed: obs}
}

func TestReactiveFormula(t *testing.T) {
	tests := []struct {
		name        string
		targets     []Target
		cur, ready  int
		obs         map[Metric]float64
		want        int
		proposalNot string
	}{
		{"cpu doubles", []Target{{MetricCPU, 50}}, 4, 4, map[Metric]float64{MetricCPU: 100}, 8, ""},
		{"cpu halves", []Target{{MetricCPU, 50}}, 8, 8, map[Metric]float64{MetricCPU: 25}, 4, ""},
		{"ceil", []Target{{MetricRPS, 10}}, 3, 3, map[Metric]float64{MetricRPS: 13}, 4, ""},
		{"inside tolerance up", []Target{{MetricCPU, 50}}, 10, 10, map[Metric]float64{MetricCPU: 54.9}, 10, noteTolerance},
		{"inside tolerance down", []Target{{MetricCPU, 50}}, 10, 10, map[Metric]float64{MetricCPU: 45.1}, 10, noteTolerance},
		{"just outside tolerance", []Target{{MetricCPU, 50}}, 10, 10, map[Metric]float64{MetricCPU: 55.5}, 12, ""},
		{"latency is pool-wide", []Target{{MetricLatencyP95, 200}}, 5, 5, map[Metric]float64{MetricLatencyP95: 400}, 10, ""},
		{"ttft", []Target{{MetricTTFT, 100}}, 2, 2, map[Metric]float64{MetricTTFT: 300}, 6, ""},
		{"largest proposal wins", []Target{{MetricCPU, 50}, {MetricInFlight, 4}, {MetricTokens, 1000}}, 4, 4,
			map[Metric]float64{MetricCPU: 25, MetricInFlight: 12, MetricTokens: 1500}, 12, ""},
		{"one low metric does not win over a holding one", []Target{{MetricCPU, 50}, {MetricQueue, 5}}, 6, 6,
			map[Metric]float64{MetricCPU: 10, MetricQueue: 5}, 6, ""},
		{"missing metric holds", []Target{{MetricCPU, 50}, {MetricMemory, 60}}, 6, 6, map[Metric]float64{MetricCPU: 10}, 6, ""},
		{"all metrics missing holds", []Target{{MetricCPU, 50}}, 6, 6, nil, 6, ""},
		{"not-ready nodes count as idle going up", []Target{{MetricCPU, 50}}, 10, 5, map[Metric]float64{MetricCPU: 100}, 10, noteTolerance},
		{"not-ready nodes block scale-down", []Target{{MetricCPU, 50}}, 10, 5, map[Metric]float64{MetricCPU: 10}, 10, ""},
		{"no ready node: per-node metric missing", []Target{{MetricRPS, 10}}, 3, 0, map[Metric]float64{MetricRPS: 0}, 3, ""},
		{"clamped to max", []Target{{MetricCPU, 10}}, 10, 10, map[Metric]float64{MetricCPU: 100}, 20, ""},
		{"clamped to min", []Target{{MetricCPU, 90}}, 10, 10, map[Metric]float64{MetricCPU: 1}, 2, ""},
		{"idle pool may go to zero", []Target{{MetricRPS, 10}}, 1, 1, map[Metric]float64{MetricRPS: 0}, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			minNodes := 2
			if tt.name == "idle pool may go to zero" {
				minNodes = 0
			}
			d, _ := Decide(bare(minNodes, 20, tt.targets...), State{}, snapAt(0, tt.cur, tt.ready, tt.obs))
			if d.Desired != tt.want {
				t.Fatalf("desired %d, want %d: %s", d.Desired, tt.want, d.Reason)
			}
			if len(d.Proposals) != len(tt.targets) {
				t.Fatalf("%d proposals for %d targets", len(d.Proposals), len(tt.targets))
			}
			if tt.proposalNot != "" && d.Proposals[0].Note != tt.proposalNot {
				t.Fatalf("proposal note %q, want %q", d.Proposals[0].Note, tt.proposalNot)
			}
			if d.Reason == "" {
				t.Fatal("no reason")
			}
		})
	}
}

func TestReasonNamesDriverAndLimit(t *testing.T) {
	p := bare(1, 6, Target{MetricRPS, 10})
	d, _ := Decide(p, State{}, snapAt(0, 4, 4, map[Metric]float64{MetricRPS: 30}))
	for _, want := range []string{"scale up 4 → 6", "requests_per_second_per_node proposes 12", "300% of target 10", "limited by max 6"} {
		if !strings.Contains(d.Reason, want) {
			t.Errorf("reason %q lacks %q", d.Reason, want)
		}
	}
	if d.Limit != "max 6" || d.Recommended != 12 {
		t.Errorf("limit %q recommended %d", d.Limit, d.Recommended)
	}
}

// tick is one step of a scenario: the time, the observed CPU, and the expected size.
type tick struct {
	at   time.Duration
	cpu  float64
	want int
}

// runTicks feeds a scenario through Decide, applying each decision at once (every node ready).
func runTicks(t *testing.T, p Policy, cur int, ticks []tick) {
	t.Helper()
	var st State
	for i, tk := range ticks {
		d, next := Decide(p, st, snapAt(tk.at, cur, cur, map[Metric]float64{MetricCPU: tk.cpu}))
		if d.Desired != tk.want {
			t.Fatalf("tick %d at %s: desired %d, want %d: %s", i, tk.at, d.Desired, tk.want, d.Reason)
		}
		st, cur = next, d.Desired
	}
}

func TestScaleDownStabilizationTakesHighestInWindow(t *testing.T) {
	p := bare(1, 20, Target{MetricCPU, 50})
	p.ScaleDown.StabilizationWindow = 300 * time.Second
	runTicks(t, p, 10, []tick{
		{0, 50, 10},                  // recommends 10
		{60 * time.Second, 40, 10},   // recommends 8; highest in window 10
		{120 * time.Second, 25, 10},  // recommends 5
		{299 * time.Second, 25, 10},  // the 10 at t=0 is still inside 300 s
		{300 * time.Second, 25, 8},   // t=0 left the window; the 8 of t=60 s is highest
		{360 * time.Second, 25, 5},   // only 5s in the window
		{400 * time.Second, 100, 10}, // scale-up is immediate (window 0)
	})
}

func TestScaleUpStabilizationTakesLowestInWindow(t *testing.T) {
	p := bare(1, 40, Target{MetricCPU, 50})
	p.ScaleUp.StabilizationWindow = 60 * time.Second
	runTicks(t, p, 10, []tick{
		{0, 50, 10},
		{15 * time.Second, 100, 10}, // recommends 20; lowest in window is 10
		{30 * time.Second, 100, 10},
		{61 * time.Second, 100, 20}, // t=0 left the window: the lowest is now 20
	})
}

func TestRatePolicies(t *testing.T) {
	up := bare(1, 100, Target{MetricCPU, 50})
	up.ScaleUp = DefaultPolicy(1, 100).ScaleUp // +100 % or +4 per 15 s, the larger
	t.Run("up by the larger of +100% and +4", func(t *testing.T) {
		runTicks(t, up, 2, []tick{
			{0, 500, 6},                 // wants 20; +100% of 2 = 4, +4 = 6
			{5 * time.Second, 500, 6},   // 4 already added within 15 s from 2: cap still 6
			{15 * time.Second, 500, 12}, // new period from 6: +100% = 12
			{30 * time.Second, 500, 24}, // wants 120, 24 by +100%
		})
	})
	minUp := up
	minUp.ScaleUp.Select = MinChange
	t.Run("min_change takes the smaller", func(t *testing.T) {
		runTicks(t, minUp, 10, []tick{{0, 500, 14}, {15 * time.Second, 500, 18}})
	})
	down := bare(1, 100, Target{MetricCPU, 50})
	down.ScaleDown.Policies = []RatePolicy{{Unit: Nodes, Value: 1, Period: 60 * time.Second}}
	t.Run("down one node per minute", func(t *testing.T) {
		runTicks(t, down, 10, []tick{
			{0, 5, 9}, {30 * time.Second, 5, 9}, {60 * time.Second, 5, 8}, {90 * time.Second, 5, 8}, {120 * time.Second, 5, 7},
		})
	})
	pct := bare(1, 100, Target{MetricCPU, 50})
	pct.ScaleDown.Policies = []RatePolicy{{Unit: Percent, Value: 50, Period: time.Minute}}
	t.Run("down by percent", func(t *testing.T) {
		runTicks(t, pct, 10, []tick{{0, 5, 5}, {30 * time.Second, 5, 5}, {61 * time.Second, 5, 2}})
	})
}

func TestCooldowns(t *testing.T) {
	p := bare(1, 100, Target{MetricCPU, 50})
	p.ScaleUp.Cooldown = 30 * time.Second
	p.ScaleDown.Cooldown = 2 * time.Minute
	var st State
	steps := []struct {
		at       time.Duration
		cur      int
		cpu      float64
		want     int
		leftWant time.Duration
	}{
		{0, 4, 100, 8, 0},
		{10 * time.Second, 8, 100, 8, 20 * time.Second}, // up cooldown holds
		{30 * time.Second, 8, 100, 16, 0},
		{60 * time.Second, 16, 10, 16, 90 * time.Second}, // down cooldown counts from the last action
		{150 * time.Second, 16, 10, 4, 0},
	}
	for i, s := range steps {
		d, next := Decide(p, st, snapAt(s.at, s.cur, s.cur, map[Metric]float64{MetricCPU: s.cpu}))
		if d.Desired != s.want || d.CooldownLeft != s.leftWant {
			t.Fatalf("step %d: desired %d cooldown left %s, want %d and %s: %s", i, d.Desired, d.CooldownLeft, s.want, s.leftWant, d.Reason)
		}
		if s.leftWant > 0 && !strings.Contains(d.Reason, "cooldown") {
			t.Fatalf("step %d: reason %q does not name the cooldown", i, d.Reason)
		}
		st = next
	}
}

func TestRules(t *testing.T) {
	hot := Rule{Name: "queue", Metric: MetricQueue, Comparison: AboveOrEqual, Threshold: 10, For: time.Minute,
		Action: ScaleUp, Amount: 50, Unit: Percent, Cooldown: 2 * time.Minute}
	cold := Rule{Name: "idle", Metric: MetricRPS, Comparison: Below, Threshold: 1, For: 30 * time.Second,
		Action: ScaleDown, Amount: 2, Unit: Nodes}
	p := bare(1, 100)
	p.Rules = []Rule{hot, cold}
	var st State
	cur := 4
	steps := []struct {
		at        time.Duration
		queue     float64
		rps       float64
		want      int
		wantRules int
	}{
		{0, 12, 5, 4, 0},                 // condition starts
		{59 * time.Second, 12, 5, 4, 0},  // not yet for 1 m
		{60 * time.Second, 12, 5, 6, 1},  // +50 % of 4
		{90 * time.Second, 12, 5, 6, 0},  // own cooldown 2 m
		{100 * time.Second, 0, 5, 6, 0},  // condition ends
		{190 * time.Second, 12, 5, 6, 0}, // cooldown over, but the for starts again
		{250 * time.Second, 12, 5, 9, 1},
		{260 * time.Second, 0, 0.5, 9, 0}, // idle starts
		{290 * time.Second, 0, 0.5, 7, 1}, // idle for 30 s: −2
	}
	for i, s := range steps {
		d, next := Decide(p, st, snapAt(s.at, cur, cur, map[Metric]float64{MetricQueue: s.queue, MetricRPS: s.rps}))
		if d.Desired != s.want || len(d.Proposals) != s.wantRules {
			t.Fatalf("step %d at %s: desired %d with %d proposals, want %d with %d: %s", i, s.at, d.Desired, len(d.Proposals), s.want, s.wantRules, d.Reason)
		}
		st, cur = next, d.Desired
	}
}

func TestScaleDownRuleYieldsToTargets(t *testing.T) {
	p := bare(1, 100, Target{MetricCPU, 50}, Target{MetricMemory, 70})
	p.Rules = []Rule{{Name: "idle", Metric: MetricRPS, Comparison: Below, Threshold: 1, Action: ScaleDown, Amount: 1, Unit: Nodes}}
	tests := []struct {
		name string
		obs  map[Metric]float64
		want int
	}{
		{"targets within tolerance: the rule applies", map[Metric]float64{MetricCPU: 50, MetricMemory: 70, MetricRPS: 0}, 4},
		{"a target wants more: it wins", map[Metric]float64{MetricCPU: 100, MetricMemory: 70, MetricRPS: 0}, 10},
		{"a metric is missing: hold", map[Metric]float64{MetricCPU: 50, MetricRPS: 0}, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, _ := Decide(p, State{}, snapAt(0, 5, 5, tt.obs))
			if d.Desired != tt.want {
				t.Fatalf("desired %d, want %d: %s", d.Desired, tt.want, d.Reason)
			}
		})
	}
}

func TestScaleToZeroAndWake(t *testing.T) {
	p := DefaultPolicy(0, 10)
	p.Targets = []Target{{MetricRPS, 10}}
	p.WakeSize = 3
	d, st := Decide(p, State{}, Snapshot{Now: t0, Current: 0})
	if d.Desired != 0 {
		t.Fatalf("empty idle pool: desired %d, want 0: %s", d.Desired, d.Reason)
	}
	// A scale-down just happened, so cooldowns and rate policies would hold a normal scale-up.
	p.ScaleUp.Cooldown = time.Hour
	st.Actions = append(st.Actions, Action{Time: t0, From: 1, To: 0})
	d, _ = Decide(p, st, Snapshot{Now: t0.Add(time.Second), Current: 0, Wake: true})
	if d.Desired != 3 || !strings.Contains(d.Reason, "wake proposes 3") {
		t.Fatalf("wake: desired %d, want 3: %s", d.Desired, d.Reason)
	}
}

func TestPredictiveFloorOnlyRaises(t *testing.T) {
	p := bare(1, 10, Target{MetricCPU, 50})
	d, _ := Decide(p, State{}, Snapshot{Now: t0, Current: 4, Ready: 4, Observed: map[Metric]float64{MetricCPU: 50},
		Floor: Floor{Nodes: 7, Forecast: 70, Reason: "forecast 70 rps"}})
	if d.Desired != 7 || d.Limit != "predictive floor" {
		t.Fatalf("desired %d limit %q, want 7 by the floor: %s", d.Desired, d.Limit, d.Reason)
	}
	d, _ = Decide(p, State{}, Snapshot{Now: t0, Current: 4, Ready: 4, Observed: map[Metric]float64{MetricCPU: 100}, Floor: Floor{Nodes: 2}})
	if d.Desired != 8 {
		t.Fatalf("a floor below the reactive size changed it: desired %d: %s", d.Desired, d.Reason)
	}
}

func TestDecideDoesNotModifyState(t *testing.T) {
	p := DefaultPolicy(1, 10)
	p.Targets = []Target{{MetricCPU, 50}}
	st := State{Recommendations: make([]Sample, 1, 8), Actions: make([]Action, 1, 8), Rules: map[string]RuleState{}}
	st.Recommendations[0] = Sample{Time: t0, Nodes: 3}
	st.Actions[0] = Action{Time: t0, From: 2, To: 3}
	_, next := Decide(p, st, snapAt(time.Second, 3, 3, map[Metric]float64{MetricCPU: 100}))
	next.Recommendations[0].Nodes = 99
	if st.Recommendations[0].Nodes != 3 || len(st.Recommendations) != 1 || len(st.Actions) != 1 {
		t.Fatal("Decide shared or changed the state it was given")
	}
}

// TestNoisyLoadDoesNotFlap: a steady load with ±15 % noise per tick over two hours must not make
// the pool oscillate under the default policy.
func TestNoisyLoadDoesNotFlap(t *testing.T) {
	p := DefaultPolicy(1, 50)
	p.Targets = []Target{{MetricRPS, 10}}
	r := rand.New(rand.NewPCG(1, 2))
	var st State
	cur, actions, ups, downs := 10, 0, 0, 0
	const load = 100.0 // rps over the pool: 10 nodes at target
	for i := range 2 * 3600 / 15 {
		noisy := load * (1 + 0.3*(r.Float64()-0.5))
		d, next := Decide(p, st, snapAt(time.Duration(i)*15*time.Second, cur, cur, map[Metric]float64{MetricRPS: noisy / float64(cur)}))
		if d.Desired > cur {
			ups++
		} else if d.Desired < cur {
			downs++
		}
		if d.Desired != cur {
			actions++
		}
		st, cur = next, d.Desired
	}
	// Noise above the tolerance may add a node or two; the down window keeps them.
	if actions > 3 || downs > 1 || cur < 10 || cur > 12 {
		t.Fatalf("%d actions (%d up, %d down), final %d nodes: the pool flapped", actions, ups, downs, cur)
	}
}

func TestChooseVictims(t *testing.T) {
	nodes := []Node{
		{ID: "a", Ready: true, HourlyPrice: 1, Load: 5, Started: t0},
		{ID: "b", Ready: true, HourlyPrice: 3, Load: 9, Started: t0.Add(time.Hour), Spot: true},
		{ID: "c", Ready: true, HourlyPrice: 3, Load: 2, Started: t0.Add(2 * time.Hour)},
		{ID: "d", Ready: false, HourlyPrice: 1, Load: 0, Started: t0.Add(3 * time.Hour)},
		{ID: "e", Ready: true, HourlyPrice: 1, Load: 1, Started: t0.Add(4 * time.Hour), Spot: true},
	}
	tests := []struct {
		order []VictimOrder
		n     int
		want  string
	}{
		{[]VictimOrder{MostExpensive, LeastLoaded}, 3, "d,c,b"},
		{[]VictimOrder{LeastLoaded}, 3, "d,e,c"},
		{[]VictimOrder{Newest}, 2, "d,e"},
		{[]VictimOrder{SpotLast, LeastLoaded}, 4, "d,c,a,e"},
		{nil, 2, "d,a"},
		{[]VictimOrder{Newest}, 9, "d,e,c,b,a"},
		{[]VictimOrder{Newest}, 0, ""},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.order, tt.n), func(t *testing.T) {
			if got := strings.Join(ChooseVictims(nodes, tt.n, tt.order), ","); got != tt.want {
				t.Fatalf("victims %s, want %s", got, tt.want)
			}
		})
	}
}

func TestScaleDownNamesVictims(t *testing.T) {
	p := bare(1, 10, Target{MetricCPU, 50})
	snap := snapAt(0, 3, 3, map[Metric]float64{MetricCPU: 10})
	snap.Nodes = []Node{{ID: "x", Ready: true, HourlyPrice: 1}, {ID: "y", Ready: true, HourlyPrice: 2}, {ID: "z", Ready: true, HourlyPrice: 0.5}}
	d, _ := Decide(p, State{}, snap)
	if d.Desired != 1 || strings.Join(d.Victims, ",") != "y,x" {
		t.Fatalf("desired %d victims %v, want 1 and y,x", d.Desired, d.Victims)
	}
}

func TestScaleDownCancelsUnregisteredNodesFirst(t *testing.T) {
	p := bare(1, 10, Target{MetricCPU, 50})
	snap := snapAt(0, 4, 2, map[Metric]float64{MetricCPU: 5})
	snap.Ready = 4 // not-ready nodes would hold the pool; here two are asked for and counted ready
	snap.Nodes = []Node{{ID: "x", Ready: true, HourlyPrice: 1}, {ID: "y", Ready: true, HourlyPrice: 2}}
	d, _ := Decide(p, State{}, snap)
	if d.Desired != 1 || strings.Join(d.Victims, ",") != "y" {
		t.Fatalf("desired %d victims %v, want 1 and only y (the two unregistered nodes go first)", d.Desired, d.Victims)
	}
	snap.Observed[MetricCPU] = 20
	d, _ = Decide(p, State{}, snap)
	if d.Desired != 2 || len(d.Victims) != 0 {
		t.Fatalf("desired %d victims %v, want 2 and no victim", d.Desired, d.Victims)
	}
}
