package rules

import (
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func mustCompile(t *testing.T, r Rule) *Compiled {
	t.Helper()
	if r.Severity == "" {
		r.Severity = SeverityWarning
	}
	if r.Scope == "" {
		r.Scope = ScopeNode
	}
	c, err := Compile(r, Options{Channels: []string{LogChannel, "hook"}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// fleetOf builds a snapshot of ready nodes in pool "p", each with the given CPU share.
func fleetOf(cpu ...float64) Snapshot {
	var s Snapshot
	for i, c := range cpu {
		s.Nodes = append(s.Nodes, Node{ID: "n" + string(rune('1'+i)), Pool: "p", State: "ready", Up: true, Host: Host{CPU: c}})
	}
	s.Pools = []Pool{{Name: "p", Nodes: int64(len(cpu)), Healthy: int64(len(cpu))}}
	return s
}

// run evaluates c over a sequence of (offset, snapshot) steps, carrying the state.
type tick struct {
	at        time.Duration
	snap      Snapshot
	wantState State // of alert rule|node/n1; "" inactive
	wantNote  NotificationKind
}

func TestAlertLifecycle(t *testing.T) {
	c := mustCompile(t, Rule{Name: "CPUHigh", Condition: "node.host.cpu > 90.0", For: 2 * time.Minute, Repeat: 10 * time.Minute,
		Notify: []string{"hook"}, Annotations: map[string]string{"summary": `{{.Node.ID}} at {{printf "%.0f" .Node.Host.CPU}} %`}})
	tests := []struct {
		name  string
		ticks []tick
	}{
		{"pending then firing after for", []tick{
			{0, fleetOf(95), StatePending, ""},
			{time.Minute, fleetOf(96), StatePending, ""},
			{2 * time.Minute, fleetOf(97), StateFiring, NotifyFiring},
			{3 * time.Minute, fleetOf(97), StateFiring, ""},
		}},
		{"pending dropped when the condition stops", []tick{
			{0, fleetOf(95), StatePending, ""},
			{time.Minute, fleetOf(50), "", ""},
			{2 * time.Minute, fleetOf(95), StatePending, ""},
		}},
		{"firing resolves and repeats", []tick{
			{0, fleetOf(95), StatePending, ""},
			{2 * time.Minute, fleetOf(95), StateFiring, NotifyFiring},
			{11 * time.Minute, fleetOf(95), StateFiring, ""},
			{12 * time.Minute, fleetOf(95), StateFiring, NotifyRepeat},
			{13 * time.Minute, fleetOf(10), StateResolved, NotifyResolved},
			{14 * time.Minute, fleetOf(10), StateResolved, ""},
			{15 * time.Minute, fleetOf(99), StatePending, ""},
		}},
		{"resolved pruned after retention", []tick{
			{0, fleetOf(95), StatePending, ""},
			{2 * time.Minute, fleetOf(95), StateFiring, NotifyFiring},
			{3 * time.Minute, fleetOf(10), StateResolved, NotifyResolved},
			{3*time.Minute + time.Hour, fleetOf(10), "", ""},
		}},
		{"node gone resolves", []tick{
			{0, fleetOf(95), StatePending, ""},
			{2 * time.Minute, fleetOf(95), StateFiring, NotifyFiring},
			{3 * time.Minute, Snapshot{}, StateResolved, NotifyResolved},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			alerts := map[string]Alert{}
			for i, tk := range tc.ticks {
				res := Evaluate(Input{Now: t0.Add(tk.at), Rules: []*Compiled{c}, Snapshot: tk.snap, Alerts: alerts,
					DefaultRepeat: time.Hour, ResolvedRetention: time.Hour})
				if len(res.Errors) > 0 {
					t.Fatalf("tick %d: %v", i, ErrorsOf(res))
				}
				alerts = res.Alerts
				a, ok := alerts[AlertKey("CPUHigh", "node/n1")]
				if got := a.State; (ok || tk.wantState != "") && got != tk.wantState {
					t.Fatalf("tick %d (+%s): state %q, want %q", i, tk.at, got, tk.wantState)
				}
				var note NotificationKind
				if len(res.Notifications) > 0 {
					note = res.Notifications[0].Kind
				}
				if note != tk.wantNote {
					t.Fatalf("tick %d (+%s): notification %q, want %q", i, tk.at, note, tk.wantNote)
				}
				if note == NotifyFiring {
					n := res.Notifications[0]
					if n.Channels[0] != "hook" || n.Alert.Labels["alertname"] != "CPUHigh" || n.Alert.Labels["node"] != "n1" ||
						!strings.HasPrefix(n.Alert.Annotations["summary"], "n1 at 9") {
						t.Fatalf("notification %+v", n)
					}
				}
			}
		})
	}
}

func TestSilenceSuppressesNotificationsNotHealing(t *testing.T) {
	c := mustCompile(t, Rule{Name: "Restart", Condition: "node.host.cpu > 90.0", Notify: []string{"hook"}, Action: &Action{Kind: ActionRestart}})
	sil := Silence{ID: "s1", Matchers: []Matcher{{Name: "alertname", Value: "Rest.*", Regex: true}}, Start: t0.Add(-time.Minute), End: t0.Add(time.Hour), Author: "ops"}
	if err := ValidateSilence(sil); err != nil {
		t.Fatal(err)
	}
	in := Input{Now: t0, Rules: []*Compiled{c}, Snapshot: fleetOf(95, 95), Silences: []Silence{sil}, Policy: DefaultHealingPolicy(), DefaultRepeat: time.Hour}
	res := Evaluate(in)
	if len(res.Notifications) != 2 || res.Notifications[0].SilencedBy != "s1" {
		t.Fatalf("notifications %+v, want two silenced by s1", res.Notifications)
	}
	if len(res.Decisions) != 2 || res.Decisions[0].Kind != ActionRestart {
		t.Fatalf("decisions %+v, want a restart per node", res.Decisions)
	}
	if !res.Alerts[AlertKey("Restart", "node/n1")].LastNotified.IsZero() {
		t.Fatal("a silenced alert counts as notified")
	}
	// Still silenced a minute later: nothing more to report within the repeat interval.
	in.Now, in.Alerts = t0.Add(time.Minute), res.Alerts
	if res = Evaluate(in); len(res.Notifications) != 0 {
		t.Fatalf("silenced notifications reported again: %+v", res.Notifications)
	}
	// After the silence ends the alert is notified at once.
	in.Now, in.Alerts = t0.Add(time.Hour+time.Second), res.Alerts
	in.Executions = []Execution{{Node: "n1", Rule: "Restart", Kind: ActionRestart, Time: t0, Outcome: OutcomeSucceeded}}
	res = Evaluate(in)
	if len(res.Notifications) != 2 || res.Notifications[0].SilencedBy != "" || res.Notifications[0].Kind != NotifyFiring {
		t.Fatalf("after the silence: %+v", res.Notifications)
	}
}

func TestSilenceMatchers(t *testing.T) {
	labels := map[string]string{"alertname": "DiskFull", "node": "n1", "severity": "critical"}
	tests := []struct {
		m    []Matcher
		want bool
	}{
		{[]Matcher{{Name: "alertname", Value: "DiskFull"}}, true},
		{[]Matcher{{Name: "alertname", Value: "DiskFull"}, {Name: "node", Value: "n2"}}, false},
		{[]Matcher{{Name: "node", Value: "n[0-9]", Regex: true}}, true},
		{[]Matcher{{Name: "node", Value: "n", Regex: true}}, false},
		{[]Matcher{{Name: "severity", Value: "critical", Negate: true}}, false},
		{[]Matcher{{Name: "pool", Value: ""}}, true},
	}
	for i, tc := range tests {
		if got := (Silence{Matchers: tc.m}).Matches(labels); got != tc.want {
			t.Errorf("case %d: Matches = %v, want %v", i, got, tc.want)
		}
	}
	bad := []Silence{
		{Matchers: []Matcher{{Name: "a", Value: "x"}}, Start: t0, End: t0.Add(-time.Second), Author: "a"},
		{Matchers: []Matcher{{Name: "a", Value: "(", Regex: true}}, Start: t0, End: t0.Add(time.Hour), Author: "a"},
		{Start: t0, End: t0.Add(time.Hour), Author: "a"},
		{Matchers: []Matcher{{Name: "a", Value: "x"}}, Start: t0, End: t0.Add(time.Hour)},
	}
	for i, s := range bad {
		if err := ValidateSilence(s); err == nil {
			t.Errorf("bad silence %d accepted", i)
		}
	}
}

func TestHealingGuards(t *testing.T) {
	restart := mustCompile(t, Rule{Name: "Restart", Condition: "node.host.cpu > 90.0", Repeat: time.Minute, Notify: []string{"hook"}, Action: &Action{Kind: ActionRestart}})
	drain := mustCompile(t, Rule{Name: "Drain", Condition: "node.host.cpu > 90.0", Action: &Action{Kind: ActionDrain, MinHealthy: 2}})
	firing := func(rule string, firedAt time.Time) map[string]Alert {
		return map[string]Alert{AlertKey(rule, "node/n1"): {Rule: rule, Target: "node/n1", State: StateFiring, FiredAt: firedAt, LastNotified: firedAt}}
	}
	exec := func(ago time.Duration, o Outcome) Execution {
		return Execution{Node: "n1", Rule: "Restart", Kind: ActionRestart, Time: t0.Add(-ago), Outcome: o}
	}
	policy := DefaultHealingPolicy()
	policy.EscalateAfter = 3
	tests := []struct {
		name      string
		rule      *Compiled
		snap      Snapshot
		alerts    map[string]Alert
		execs     []Execution
		wantKinds []ActionKind
		wantEvent string
		escalated bool
	}{
		{"first restart", restart, fleetOf(95, 10), nil, nil, []ActionKind{ActionRestart}, "restart on node n1", false},
		{"rate guard stops a fourth within the hour", restart, fleetOf(95, 10), firing("Restart", t0.Add(-2*time.Hour)),
			[]Execution{exec(50*time.Minute, OutcomeSucceeded), exec(40*time.Minute, OutcomeSucceeded), {Node: "n1", Rule: "Other", Time: t0.Add(-10 * time.Minute), Outcome: OutcomeSucceeded}},
			nil, "already had 3 healing executions in the last hour", false},
		{"executions older than an hour do not count", restart, fleetOf(95, 10), firing("Restart", t0.Add(-3*time.Hour)),
			[]Execution{exec(2*time.Hour, OutcomeSucceeded), exec(90*time.Minute, OutcomeSucceeded), exec(61*time.Minute, OutcomeSucceeded)},
			[]ActionKind{ActionRestart}, "restart on node n1", false},
		{"a pending attempt waits", restart, fleetOf(95, 10), firing("Restart", t0.Add(-time.Hour)),
			[]Execution{exec(time.Minute, OutcomePending)}, nil, "", false},
		{"escalation after three ineffective restarts", restart, fleetOf(95, 10), firing("Restart", t0.Add(-20*time.Minute)),
			[]Execution{exec(15*time.Minute, OutcomeSucceeded), exec(10*time.Minute, OutcomeFailed), exec(5*time.Minute, OutcomeSucceeded)},
			[]ActionKind{ActionDrain}, "escalated: restart of rule Restart failed 3 times within 30m0s on node n1; draining", true},
		{"failures outside the window do not escalate", restart, fleetOf(95, 10), firing("Restart", t0.Add(-2*time.Hour)),
			[]Execution{exec(45*time.Minute, OutcomeFailed), exec(5*time.Minute, OutcomeFailed)},
			[]ActionKind{ActionRestart}, "attempt 2", false},
		{"escalation never drains below the minimum", restart, fleetOf(95), firing("Restart", t0.Add(-20*time.Minute)),
			[]Execution{exec(15*time.Minute, OutcomeFailed), exec(10*time.Minute, OutcomeFailed), exec(5*time.Minute, OutcomeFailed)},
			nil, "not drained: draining would leave pool p with 0 ready nodes, below its minimum of 1", true},
		{"retry not due", restart, fleetOf(95, 10), map[string]Alert{AlertKey("Restart", "node/n1"): {Rule: "Restart", Target: "node/n1",
			State: StateFiring, FiredAt: t0.Add(-time.Hour), LastNotified: t0, LastAction: t0.Add(-4 * time.Minute)}},
			[]Execution{exec(4*time.Minute, OutcomeSucceeded)}, nil, "", false},
		{"drain guard", drain, fleetOf(95, 10), nil, nil, nil, "drain not run: draining would leave pool p with 1 ready nodes, below its minimum of 2", false},
		{"drain allowed", drain, fleetOf(95, 10, 10), nil, nil, []ActionKind{ActionDrain}, "drain on node n1", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := Evaluate(Input{Now: t0, Rules: []*Compiled{tc.rule}, Snapshot: tc.snap, Alerts: tc.alerts, Executions: tc.execs,
				Policy: policy, DefaultRepeat: time.Hour})
			var kinds []ActionKind
			for _, d := range res.Decisions {
				kinds = append(kinds, d.Kind)
			}
			if strings.Join(toStrings(kinds), ",") != strings.Join(toStrings(tc.wantKinds), ",") {
				t.Fatalf("decisions %+v, want %v", res.Decisions, tc.wantKinds)
			}
			found := tc.wantEvent == ""
			for _, ev := range res.Events {
				if ev.Kind == EventHealing && tc.wantEvent != "" && strings.Contains(ev.Message, tc.wantEvent) {
					found = true
				}
				if ev.Kind == EventHealing && tc.wantEvent == "" {
					t.Errorf("unexpected event %q", ev.Message)
				}
			}
			if !found {
				t.Errorf("no event containing %q in %+v", tc.wantEvent, res.Events)
			}
			esc, ok := res.Alerts[AlertKey(EscalationRule, "node/n1")]
			if ok != tc.escalated || (ok && (esc.State != StateFiring || esc.Severity != SeverityCritical || esc.Labels["rule"] != "Restart")) {
				t.Fatalf("escalation alert %+v (present %v), want present %v", esc, ok, tc.escalated)
			}
			if tc.escalated && !res.Alerts[AlertKey("Restart", "node/n1")].Escalated {
				t.Fatal("the escalated alert is not marked")
			}
		})
	}
}

func TestEscalationAlertFollowsItsSource(t *testing.T) {
	restart := mustCompile(t, Rule{Name: "Restart", Condition: "node.host.cpu > 90.0", Notify: []string{"hook"}, Action: &Action{Kind: ActionRestart}})
	in := Input{Now: t0, Rules: []*Compiled{restart}, Snapshot: fleetOf(95, 10), Policy: DefaultHealingPolicy(), DefaultRepeat: time.Hour,
		Alerts: map[string]Alert{AlertKey("Restart", "node/n1"): {Rule: "Restart", Target: "node/n1", State: StateFiring, FiredAt: t0.Add(-time.Hour), LastNotified: t0.Add(-time.Minute)}},
		Executions: []Execution{
			{Node: "n1", Rule: "Restart", Time: t0.Add(-20 * time.Minute), Outcome: OutcomeFailed},
			{Node: "n1", Rule: "Restart", Time: t0.Add(-10 * time.Minute), Outcome: OutcomeFailed},
			{Node: "n1", Rule: "Restart", Time: t0.Add(-5 * time.Minute), Outcome: OutcomeFailed},
		}}
	res := Evaluate(in)
	if len(res.Decisions) != 1 || !res.Decisions[0].Escalation {
		t.Fatalf("decisions %+v", res.Decisions)
	}
	// Still firing: no more actions, the escalation stays.
	in.Now, in.Alerts = t0.Add(2*time.Hour), res.Alerts
	res = Evaluate(in)
	if len(res.Decisions) != 0 || res.Alerts[AlertKey(EscalationRule, "node/n1")].State != StateFiring {
		t.Fatalf("after escalation: decisions %+v alerts %+v", res.Decisions, res.Alerts)
	}
	// The source resolves: so does the escalation, with a resolved notification.
	in.Now, in.Alerts, in.Snapshot = t0.Add(3*time.Hour), res.Alerts, fleetOf(10, 10)
	res = Evaluate(in)
	if res.Alerts[AlertKey(EscalationRule, "node/n1")].State != StateResolved {
		t.Fatalf("escalation not resolved: %+v", res.Alerts)
	}
	resolved := 0
	for _, n := range res.Notifications {
		if n.Kind == NotifyResolved {
			resolved++
		}
	}
	if resolved != 2 {
		t.Fatalf("resolved notifications %d, want 2: %+v", resolved, res.Notifications)
	}
}

func TestBaselineZScore(t *testing.T) {
	c := mustCompile(t, Rule{Name: "LatencyAnomaly", Condition: `zscore("p95_ms") > 4.0`})
	snap := func(p95 float64) Snapshot {
		s := fleetOf(10)
		s.Nodes[0].DSPy = DSPy{Requests: 100, P95Ms: p95}
		return s
	}
	bl := Baselines{}
	o := DefaultBaselineOptions()
	now := t0
	for i := range 100 {
		s := snap(100 + float64(i%5)) // 100-104 ms
		res := Evaluate(Input{Now: now, Rules: []*Compiled{c}, Snapshot: s, Baselines: bl, BaselineOptions: o})
		if len(res.Alerts) != 0 && i >= int(o.MinSamples) {
			t.Fatalf("sample %d: normal latency alerted", i)
		}
		bl = UpdateBaselines(bl, s, now, o)
		now = now.Add(5 * time.Second)
	}
	b := bl["node/n1"]["p95_ms"]
	if b.Mean < 100 || b.Mean > 104 || b.Samples != 100 {
		t.Fatalf("baseline %+v", b)
	}
	res := Evaluate(Input{Now: now, Rules: []*Compiled{c}, Snapshot: snap(200), Baselines: bl, BaselineOptions: o})
	if res.Alerts[AlertKey("LatencyAnomaly", "node/n1")].State != StateFiring {
		t.Fatalf("a spike to 200 ms did not fire: z=%v", b.Z(200, o.MinSamples, o.MinRelSD))
	}
	results := Test(c, snap(200), bl, now, o)
	if len(results) != 1 || !results[0].Holds || results[0].Err != nil {
		t.Fatalf("Test = %+v", results)
	}
}

func TestHourOfDayBaseline(t *testing.T) {
	tod := mustCompile(t, Rule{Name: "Unusual", Condition: `zscore_tod("p95_ms") > 4.0`})
	snap := func(p95 float64) Snapshot {
		s := fleetOf(10)
		s.Nodes[0].DSPy = DSPy{Requests: 100, P95Ms: p95}
		return s
	}
	o := BaselineOptions{Alpha: 0.05, MinSamples: 12, HourAlpha: 0.05, MinHourSamples: 30}
	var bl Baselines
	// Five days: nights (03:00) at about 100 ms, afternoons (15:00) at about 500 ms.
	for day := range 5 {
		for i := range 20 {
			for _, h := range []struct {
				hour int
				p95  float64
			}{{3, 100}, {15, 500}} {
				at := time.Date(2026, 11, 1+day, h.hour, i, 0, 0, time.UTC)
				bl = UpdateBaselines(bl, snap(h.p95+float64(i%5)), at, o)
			}
		}
	}
	afternoon := time.Date(2026, 11, 6, 15, 30, 0, 0, time.UTC)
	night := time.Date(2026, 11, 6, 3, 30, 0, 0, time.UTC)
	if r := Test(tod, snap(502), bl, afternoon, o); r[0].Holds || r[0].Err != nil {
		t.Fatalf("an ordinary afternoon is unusual: %+v", r)
	}
	if r := Test(tod, snap(502), bl, night, o); !r[0].Holds {
		t.Fatalf("afternoon latency at night is not unusual: %+v", r)
	}
	if got := bl["node/n1"]["p95_ms@15"].Mean; got < 500 || got > 504 {
		t.Fatalf("15:00 baseline mean %v", got)
	}
	// A node that goes down keeps its baselines; one that leaves the snapshot loses them.
	down := snap(0)
	down.Nodes[0].Up = false
	bl = UpdateBaselines(bl, down, night, o)
	if bl["node/n1"]["p95_ms@15"].Samples != 100 {
		t.Fatalf("a down node's baselines changed: %+v", bl["node/n1"]["p95_ms@15"])
	}
	bl = UpdateBaselines(bl, Snapshot{}, night, o)
	if _, ok := bl["node/n1"]; ok {
		t.Fatal("a node gone from the snapshot kept its baselines")
	}
}

func TestEvalErrorKeepsState(t *testing.T) {
	c := mustCompile(t, Rule{Name: "Target", Condition: "node.dspy.p95_ms > params.target_ms"})
	prev := map[string]Alert{AlertKey("Target", "node/n1"): {Rule: "Target", Target: "node/n1", State: StateFiring, FiredAt: t0}}
	res := Evaluate(Input{Now: t0.Add(time.Minute), Rules: []*Compiled{c}, Snapshot: fleetOf(10), Alerts: prev})
	if len(res.Errors) != 1 || !strings.Contains(res.Errors[0].Err.Error(), "target_ms") {
		t.Fatalf("errors %+v", res.Errors)
	}
	if res.Alerts[AlertKey("Target", "node/n1")].State != StateFiring {
		t.Fatal("an evaluation error changed the state")
	}
}

func toStrings(k []ActionKind) []string {
	out := make([]string, len(k))
	for i, x := range k {
		out[i] = string(x)
	}
	return out
}

// TestUrgentRuleDecisionsAreUrgent: a rule's urgent reaches its healing decisions, which the
// control plane sends at once outside maintenance windows; other rules' decisions are not.
func TestUrgentRuleDecisionsAreUrgent(t *testing.T) {
	for _, urgent := range []bool{false, true} {
		c := mustCompile(t, Rule{Name: "Restart", Condition: "node.host.cpu > 90.0", Action: &Action{Kind: ActionRestart}, Urgent: urgent})
		res := Evaluate(Input{Now: t0, Rules: []*Compiled{c}, Snapshot: fleetOf(95, 95), Policy: DefaultHealingPolicy(), DefaultRepeat: time.Hour})
		if len(res.Decisions) != 2 || res.Decisions[0].Urgent != urgent || res.Decisions[1].Urgent != urgent {
			t.Fatalf("urgent %v: decisions %+v", urgent, res.Decisions)
		}
	}
}
