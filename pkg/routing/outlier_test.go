package routing

import (
	"strings"
	"testing"
	"time"
)

func fail(t *testing.T, p *Pool, id string, n int, now time.Time) {
	t.Helper()
	for range n {
		if _, err := p.Result(id, p.byID[id].epoch, time.Millisecond, false, now); err != nil {
			t.Fatal(err)
		}
	}
}

func picked(p *Pool, n int) map[string]int {
	seen := map[string]int{}
	for range n {
		pk, err := p.Pick("")
		if err != nil {
			panic(err)
		}
		seen[pk.ID]++
		p.Result(pk.ID, pk.Epoch, time.Millisecond, true, time.Time{})
	}
	return seen
}

func TestConsecutiveErrorsEjectForGrowingTimes(t *testing.T) {
	pol := policy(RoundRobin)
	pol.Outlier.ConsecutiveErrors = 3
	pol.Outlier.MaxEjectedShare = 0.5
	pol.Outlier.BaseEjection = 30 * time.Second
	pol.Outlier.MaxEjection = 70 * time.Second
	nodes := readyNodes(4)
	p := newPool(pol, nodes)

	fail(t, p, "n01", 2, t0)
	if p.byID["n01"].ejected() {
		t.Fatal("ejected after 2 of 3 consecutive errors")
	}
	fail(t, p, "n01", 1, t0)
	st := p.Status()
	if !st.Nodes[1].Ejected || !strings.Contains(st.Nodes[1].Reason, "3 consecutive errors") || !st.Nodes[1].EjectedUntil.Equal(t0.Add(30*time.Second)) {
		t.Fatalf("n01 status after 3 errors: %+v", st.Nodes[1])
	}
	if seen := picked(p, 30); seen["n01"] != 0 {
		t.Fatalf("ejected n01 picked: %v", seen)
	}

	// Back after the base time; a second ejection lasts twice as long, a third is capped.
	p.Update(nodes, t0.Add(30*time.Second))
	if p.byID["n01"].ejected() {
		t.Fatal("still ejected after the base time")
	}
	now := t0.Add(31 * time.Second)
	fail(t, p, "n01", 3, now)
	if got := p.byID["n01"].ejectedUntil.Sub(now); got != 60*time.Second {
		t.Fatalf("second ejection lasts %s, want 60s", got)
	}
	now = now.Add(60 * time.Second)
	p.Update(nodes, now)
	fail(t, p, "n01", 3, now)
	if got := p.byID["n01"].ejectedUntil.Sub(now); got != 70*time.Second {
		t.Fatalf("third ejection lasts %s, want the 70s cap", got)
	}
}

func TestEjectionNeverExceedsTheMaximumShare(t *testing.T) {
	pol := policy(RoundRobin)
	pol.Outlier.ConsecutiveErrors = 1
	pol.Outlier.MaxEjectedShare = 0.2
	pol.PanicThreshold = 0
	p := newPool(pol, readyNodes(10))
	for _, id := range []string{"n00", "n01", "n02", "n03"} {
		fail(t, p, id, 1, t0)
	}
	ejected := 0
	for _, n := range p.Status().Nodes {
		if n.Ejected {
			ejected++
		}
	}
	if ejected != 2 {
		t.Fatalf("%d of 10 nodes ejected with a 20%% cap, want 2", ejected)
	}
}

func TestErrorRateEjectionJudgedPerInterval(t *testing.T) {
	pol := policy(RoundRobin)
	pol.Outlier.ConsecutiveErrors = 0
	pol.Outlier.ErrorRate = 0.3
	pol.Outlier.MinRequests = 10
	pol.Outlier.Interval = 10 * time.Second
	pol.Outlier.MaxEjectedShare = 0.5
	nodes := readyNodes(4)
	p := newPool(pol, nodes)
	for i := range 20 {
		id := "n02"
		ok := i%2 == 0 // 50 % errors
		if _, err := p.Result(id, p.byID[id].epoch, time.Millisecond, ok, t0); err != nil {
			t.Fatal(err)
		}
		if _, err := p.Result("n03", p.byID["n03"].epoch, time.Millisecond, i%10 != 0, t0); err != nil {
			t.Fatal(err)
		}
	}
	p.Update(nodes, t0.Add(5*time.Second))
	if p.byID["n02"].ejected() {
		t.Fatal("judged before the interval passed")
	}
	if !p.Update(nodes, t0.Add(10*time.Second)) || !p.byID["n02"].ejected() || p.byID["n03"].ejected() {
		t.Fatalf("after the interval: n02 ejected=%v (50%% errors), n03 ejected=%v (10%%)", p.byID["n02"].ejected(), p.byID["n03"].ejected())
	}
	if !strings.Contains(p.byID["n02"].ejectReason, "error rate 50.0%") {
		t.Errorf("reason %q", p.byID["n02"].ejectReason)
	}
}

func TestAgentReportedErrorRateEjectsWithoutClientResults(t *testing.T) {
	pol := policy(RoundRobin)
	pol.Outlier.ErrorRate = 0.2
	pol.Outlier.MinRequests = 50
	pol.Outlier.MaxEjectedShare = 0.5
	nodes := readyNodes(3)
	nodes[1].Requests, nodes[1].Errors = 100, 40
	nodes[2].Requests, nodes[2].Errors = 10, 9 // too few requests to judge
	p := newPool(pol, nodes)
	p.Update(nodes, t0.Add(pol.Outlier.Interval))
	if !p.byID["n01"].ejected() || p.byID["n02"].ejected() {
		t.Fatalf("n01 ejected=%v, n02 ejected=%v", p.byID["n01"].ejected(), p.byID["n02"].ejected())
	}
}

func TestLatencyEjectionAgainstThePoolMedian(t *testing.T) {
	pol := policy(RoundRobin)
	pol.Outlier.LatencyFactor = 3
	pol.Outlier.MinRequests = 20
	pol.Outlier.MaxEjectedShare = 0.5
	nodes := readyNodes(5)
	for i, ms := range []int{100, 120, 110, 290, 900} {
		nodes[i].Latency, nodes[i].Requests = time.Duration(ms)*time.Millisecond, 100
	}
	p := newPool(pol, nodes)
	p.Update(nodes, t0.Add(pol.Outlier.Interval))
	for id, want := range map[string]bool{"n00": false, "n01": false, "n02": false, "n03": false, "n04": true} {
		if got := p.byID[id].ejected(); got != want {
			t.Errorf("%s ejected = %v, want %v (median 120ms, factor 3)", id, got, want)
		}
	}
	if r := p.byID["n04"].ejectReason; !strings.Contains(r, "p95 latency 900ms above 3.0 × the pool median 120ms") {
		t.Errorf("reason %q", r)
	}
}

func TestLatencyEjectionNeedsThreeNodes(t *testing.T) {
	pol := policy(RoundRobin)
	pol.Outlier.MaxEjectedShare = 1
	nodes := readyNodes(2)
	nodes[0].Latency, nodes[0].Requests = 100*time.Millisecond, 100
	nodes[1].Latency, nodes[1].Requests = 10*time.Second, 100
	p := newPool(pol, nodes)
	p.Update(nodes, t0.Add(pol.Outlier.Interval))
	if p.byID["n01"].ejected() {
		t.Fatal("two nodes have no median to compare against")
	}
}

func TestSlowStartRampsWeight(t *testing.T) {
	pol := policy(WeightedRoundRobin)
	pol.SlowStart = 100 * time.Second
	nodes := readyNodes(2)
	p := NewPool(pol, 1)
	p.Update(nodes[:1], t0.Add(-time.Hour))
	p.Update(nodes[:1], t0)
	p.Update(nodes, t0) // n01 joins now
	share := func() float64 { s := picked(p, 1100); return float64(s["n01"]) / 1100 }
	if got := share(); got > 0.1 {
		t.Errorf("new node's share at once = %.2f, want about 0.1/1.1 = 0.09", got)
	}
	if st := p.Status(); !strings.Contains(st.Nodes[1].Reason, "slow start: weight at 10%") {
		t.Errorf("status reason %q", st.Nodes[1].Reason)
	}
	p.Update(nodes, t0.Add(50*time.Second))
	if got := share(); got < 0.3 || got > 0.36 {
		t.Errorf("share half way = %.2f, want 0.5/1.5 = 0.33", got)
	}
	p.Update(nodes, t0.Add(100*time.Second))
	if got := share(); got < 0.49 || got > 0.51 {
		t.Errorf("share after the window = %.2f, want 0.5", got)
	}
}

func TestPanicModeSpreadsOverEveryReadyNode(t *testing.T) {
	pol := policy(RoundRobin)
	pol.Outlier.ConsecutiveErrors = 1
	pol.Outlier.MaxEjectedShare = 1
	pol.PanicThreshold = 0.5
	nodes := readyNodes(4)
	p := newPool(pol, nodes)
	fail(t, p, "n00", 1, t0)
	if p.Status().Panic {
		t.Fatal("panic with 3 of 4 healthy")
	}
	fail(t, p, "n01", 1, t0)
	if p.Status().Panic {
		t.Fatal("panic with 2 of 4 healthy (threshold is strictly under 50%)")
	}
	fail(t, p, "n02", 1, t0)
	st := p.Status()
	if !st.Panic || !strings.Contains(st.PanicReason, "1 of 4 nodes healthy") {
		t.Fatalf("status %+v, want panic with 1 of 4 healthy", st)
	}
	seen := picked(p, 40)
	if len(seen) != 4 {
		t.Fatalf("panic picks went to %v, want all 4 ready nodes", seen)
	}
	pk := mustPick(p, "")
	if !pk.Panic {
		t.Error("pick does not say it came from panic mode")
	}
	// Down nodes count toward the pool but are never picked, panic or not.
	nodes[3].Ready, nodes[3].State = false, "down"
	p.Update(nodes, t0)
	if seen := picked(p, 40); seen["n03"] != 0 {
		t.Fatalf("down node picked in panic mode: %v", seen)
	}
}

func TestPolicyValidationNamesTheField(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Policy)
		want string
	}{
		{"unknown strategy", func(p *Policy) { p.Strategy = 99 }, "strategy:"},
		{"negative weight", func(p *Policy) { p.Weights.CPU = -1 }, "score_weights.cpu"},
		{"all weights zero", func(p *Policy) { p.Weights = Weights{} }, "score_weights: at least one"},
		{"epsilon zero", func(p *Policy) { p.LoadFactor = 0 }, "hash_load_factor"},
		{"error rate above 1", func(p *Policy) { p.Outlier.ErrorRate = 1.5 }, "outlier_detection.error_rate"},
		{"share below 0", func(p *Policy) { p.Outlier.MaxEjectedShare = -0.1 }, "outlier_detection.max_ejected_share"},
		{"panic above 1", func(p *Policy) { p.PanicThreshold = 2 }, "panic_threshold"},
		{"latency factor 1", func(p *Policy) { p.Outlier.LatencyFactor = 1 }, "outlier_detection.latency_factor"},
		{"max below base", func(p *Policy) { p.Outlier.MaxEjection = time.Second }, "outlier_detection.max_ejection_time"},
		{"negative slow start", func(p *Policy) { p.SlowStart = -time.Second }, "slow_start_window"},
		{"zero interval", func(p *Policy) { p.Outlier.Interval = 0 }, "outlier_detection.interval"},
	}
	if err := DefaultPolicy().Validate(); err != nil {
		t.Fatalf("default policy: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := DefaultPolicy()
			tt.edit(&p)
			err := p.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate = %v, want an error naming %s", err, tt.want)
			}
		})
	}
}

func TestParseStrategyRoundTrips(t *testing.T) {
	for _, s := range Strategies() {
		if got, err := ParseStrategy(s.String()); err != nil || got != s {
			t.Errorf("ParseStrategy(%q) = %v, %v", s, got, err)
		}
	}
	if _, err := ParseStrategy("random"); err == nil || !strings.Contains(err.Error(), "least_connections") {
		t.Errorf("unknown strategy error %v does not list the valid ones", err)
	}
}

func TestNodesWithoutAnAddressDoNotCauseAPanic(t *testing.T) {
	nodes := readyNodes(3)
	nodes[1].Address, nodes[2].Address = "", ""
	st := newPool(policy(RoundRobin), nodes).Status()
	if st.Panic || st.Healthy != 1 || st.Counted != 1 {
		t.Fatalf("status %+v: nodes without an address count toward the pool's size", st)
	}
}
