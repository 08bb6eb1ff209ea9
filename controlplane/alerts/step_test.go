package alerts

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dspyfleet/dspyfleet/controlplane/commands"
	"github.com/dspyfleet/dspyfleet/internal/benchfleet"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// TestAPIDuringSteps: rules, silences and reads of the alert API go ahead while steps run (the
// race detector watches the step's unlocked evaluation), and a rule set during a step fires
// from a later step.
func TestAPIDuringSteps(t *testing.T) {
	f := benchfleet.New(t, benchfleet.Options{Nodes: 200, History: 2})
	cfg := DefaultConfig()
	m := NewMetrics(prometheus.NewRegistry())
	cmds := commands.NewQueue(f.Now, f.Store, time.Hour, 16)
	a, err := New(cfg, benchfleet.Discard, f.Store, f.Reg, f.Stats, cmds, NewNotifier(cfg, benchfleet.Discard, f.Store, m, f.Now), m)
	if err != nil {
		t.Fatal(err)
	}
	const steps, changes = 20, 20
	var g errgroup.Group
	g.Go(func() error {
		for range steps {
			if err := a.Reconcile(t.Context(), f.Advance(5*time.Second)); err != nil {
				return err
			}
		}
		return nil
	})
	g.Go(func() error {
		for i := range changes {
			rule := &fleetv1.AlertRule{Name: fmt.Sprintf("Always%d", i), Scope: fleetv1.RuleScope_RULE_SCOPE_FLEET,
				Severity: fleetv1.AlertSeverity_ALERT_SEVERITY_INFO, Condition: "fleet.nodes > 0", Notify: []string{"log"}}
			if _, err := a.SetRule(rule, ""); err != nil {
				return err
			}
			now := f.Now()
			s, err := a.CreateSilence(&fleetv1.Silence{Matchers: []*fleetv1.SilenceMatcher{{Name: "alertname", Value: "Nothing"}},
				Author: "ops", Start: timestamppb.New(now), End: timestamppb.New(now.Add(time.Hour))})
			if err != nil {
				return err
			}
			if err := a.DeleteSilence(s.GetId(), ""); err != nil {
				return err
			}
			if _, err := a.Test(rule, now); err != nil {
				return err
			}
			_ = a.ListAlerts(nil)
			_ = a.Rules()
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	if err := a.Reconcile(t.Context(), f.Advance(5*time.Second)); err != nil {
		t.Fatal(err)
	}
	firing := map[string]bool{}
	for _, x := range a.ListAlerts([]fleetv1.AlertState{fleetv1.AlertState_ALERT_STATE_FIRING}) {
		firing[x.GetRule()] = true
	}
	for i := range changes {
		if name := fmt.Sprintf("Always%d", i); !firing[name] {
			t.Errorf("rule %s, set while steps ran, is not firing after a later step (firing: %v)", name, firing)
		}
	}
	if n := len(a.ListSilences(true, f.Now())); n != 0 {
		t.Errorf("%d silences left after every one was deleted", n)
	}
}

// TestStepBudgetTakesTurns: with a budget that fits two evaluations per step, the rules cut off
// are evaluated first in the next step, so rules late in name order still fire, and every cut
// is counted.
func TestStepBudgetTakesTurns(t *testing.T) {
	f := benchfleet.New(t, benchfleet.Options{Nodes: 5, History: 2})
	cfg := DefaultConfig()
	cfg.StepBudget = 3 * time.Millisecond
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	cmds := commands.NewQueue(f.Now, f.Store, time.Hour, 16)
	a, err := New(cfg, benchfleet.Discard, f.Store, f.Reg, f.Stats, cmds, NewNotifier(cfg, benchfleet.Discard, f.Store, m, f.Now), m)
	if err != nil {
		t.Fatal(err)
	}
	tick := time.Unix(0, 0)
	a.clock = func() time.Time { tick = tick.Add(time.Millisecond); return tick }
	for i := range 3 {
		rule := &fleetv1.AlertRule{Name: fmt.Sprintf("Zeta%d", i), Scope: fleetv1.RuleScope_RULE_SCOPE_FLEET,
			Severity: fleetv1.AlertSeverity_ALERT_SEVERITY_INFO, Condition: "fleet.nodes > 0", Notify: []string{"log"}}
		if _, err := a.SetRule(rule, ""); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 * len(a.Rules()) {
		if err := a.Reconcile(t.Context(), f.Advance(5*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	firing := map[string]bool{}
	for _, x := range a.ListAlerts([]fleetv1.AlertState{fleetv1.AlertState_ALERT_STATE_FIRING}) {
		firing[x.GetRule()] = true
	}
	for i := range 3 {
		if name := fmt.Sprintf("Zeta%d", i); !firing[name] {
			t.Errorf("rule %s never got its turn (firing: %v)", name, firing)
		}
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var cut float64
	for _, mf := range families {
		if mf.GetName() == "dspyfleet_alert_rules_cut_off_total" {
			cut = mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	if cut < float64(len(a.Rules())) {
		t.Errorf("%g rules counted as cut off, want at least one per step", cut)
	}
}
