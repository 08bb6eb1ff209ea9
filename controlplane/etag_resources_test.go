package controlplane_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dspyfleet/dspyfleet/internal/fleettest"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// raceOneEtag runs two changes at once, each made with the same etag, and returns the index of
// the one that won and the error of the one that lost; it fails the test unless exactly one
// won and the other got ABORTED with an ETAG_MISMATCH whose retry hint names retry.
func raceOneEtag(t *testing.T, retry string, change func(i int) error) (winner int, lost error) {
	t.Helper()
	errs := make([]error, 2)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Go(func() {
			<-start
			errs[i] = change(i)
		})
	}
	close(start)
	wg.Wait()
	winner, loser := 0, 1
	if errs[0] != nil {
		winner, loser = 1, 0
	}
	if errs[winner] != nil || errs[loser] == nil {
		t.Fatalf("errors %v, %v; want exactly one change to win", errs[0], errs[1])
	}
	info := conflictInfo(errs[loser])
	if info == nil || !strings.Contains(info.GetMetadata()["retry"], retry) || !strings.Contains(status.Convert(errs[loser]).Message(), "changed since it was read") {
		t.Fatalf("loser got %v (details %v), want ABORTED saying it changed since it was read, with a retry hint naming %q", errs[loser], info, retry)
	}
	return winner, errs[loser]
}

// TestConcurrentRuleUpdatesWithOneEtag: two operators list the rules and store their change
// to one rule with the etag they read, at once: one wins, the other gets ABORTED with how to
// retry, and the stored rule is the winner's with the etag SetRule returned. A delete with the
// old etag is refused and deletes nothing; with the current one it deletes.
func TestConcurrentRuleUpdatesWithOneEtag(t *testing.T) {
	cp := fleettest.StartControlPlane(t, fleettest.FastConfig(t))
	ac := alertClient(t, cp)
	ctx := context.Background()
	set, err := ac.SetRule(ctx, &fleetv1.SetRuleRequest{Rule: nodeRule("Hot")})
	if err != nil {
		t.Fatal(err)
	}
	ruleOf := func() *fleetv1.AlertRule {
		resp, err := ac.ListRules(ctx, &fleetv1.ListRulesRequest{PageSize: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range resp.GetRules() {
			if r.GetName() == "Hot" {
				return r
			}
		}
		t.Fatal("rule Hot is not listed")
		return nil
	}
	if got := ruleOf().GetEtag(); got == "" || got != set.GetRule().GetEtag() {
		t.Fatalf("listed etag %q, SetRule returned %q; want one non-empty etag", got, set.GetRule().GetEtag())
	}
	for round := range 3 {
		read := ruleOf()
		conditions := []string{"node.host.cpu > 90", "node.host.memory > 90"}
		resps := make([]*fleetv1.SetRuleResponse, 2)
		winner, _ := raceOneEtag(t, "fleetctl alerts rules", func(i int) error {
			r := nodeRule("Hot")
			r.Condition = conditions[i]
			var err error
			resps[i], err = ac.SetRule(ctx, &fleetv1.SetRuleRequest{Rule: r, Etag: read.GetEtag()})
			return err
		})
		now := ruleOf()
		if now.GetCondition() != conditions[winner] || now.GetEtag() != resps[winner].GetRule().GetEtag() || now.GetEtag() == read.GetEtag() {
			t.Fatalf("round %d: stored %q etag %q; want the winner's %q with etag %q", round, now.GetCondition(), now.GetEtag(), conditions[winner], resps[winner].GetRule().GetEtag())
		}
		// The loser's condition must not be stored; store it back for the next round to race on.
		if _, err := ac.SetRule(ctx, &fleetv1.SetRuleRequest{Rule: nodeRule("Hot")}); err != nil {
			t.Fatal(err)
		}
	}

	stale := ruleOf().GetEtag()
	if _, err := ac.SetRule(ctx, &fleetv1.SetRuleRequest{Rule: &fleetv1.AlertRule{Name: "Hot", Condition: "node.host.cpu > 50"},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"condition"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := ac.DeleteRule(ctx, &fleetv1.DeleteRuleRequest{Name: "Hot", Etag: stale}); conflictInfo(err) == nil {
		t.Fatalf("DeleteRule with a stale etag: %v, want ABORTED", err)
	}
	cur := ruleOf()
	if _, err := ac.DeleteRule(ctx, &fleetv1.DeleteRuleRequest{Name: "Hot", Etag: cur.GetEtag()}); err != nil {
		t.Fatalf("DeleteRule with the current etag: %v", err)
	}
}

// TestSetRuleWithUpdateMask: a masked SetRule changes only the named fields of the stored rule
// and keeps the others; a mask on a rule never stored, an unknown path and the name are
// refused naming the field.
func TestSetRuleWithUpdateMask(t *testing.T) {
	cp := fleettest.StartControlPlane(t, fleettest.FastConfig(t))
	ac := alertClient(t, cp)
	ctx := context.Background()
	full := nodeRule("Hot")
	full.Labels = map[string]string{"team": "serving"}
	full.Notify = []string{"log"}
	if _, err := ac.SetRule(ctx, &fleetv1.SetRuleRequest{Rule: full}); err != nil {
		t.Fatal(err)
	}
	resp, err := ac.SetRule(ctx, &fleetv1.SetRuleRequest{
		Rule:       &fleetv1.AlertRule{Name: "Hot", Condition: "node.host.cpu > 50", Severity: fleetv1.AlertSeverity_ALERT_SEVERITY_CRITICAL},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"condition", "severity"}}})
	if err != nil {
		t.Fatal(err)
	}
	got := resp.GetRule()
	if got.GetCondition() != "node.host.cpu > 50" || got.GetSeverity() != fleetv1.AlertSeverity_ALERT_SEVERITY_CRITICAL ||
		got.GetScope() != fleetv1.RuleScope_RULE_SCOPE_NODE || got.GetLabels()["team"] != "serving" || len(got.GetNotify()) != 1 {
		t.Fatalf("masked update stored %v; want the new condition and severity, the old scope, labels and notify", got)
	}
	for _, tt := range []struct {
		name string
		req  *fleetv1.SetRuleRequest
		code codes.Code
		want string
	}{
		{"unknown path", &fleetv1.SetRuleRequest{Rule: &fleetv1.AlertRule{Name: "Hot"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"conditon"}}},
			codes.InvalidArgument, "update_mask.paths[0]"},
		{"name", &fleetv1.SetRuleRequest{Rule: &fleetv1.AlertRule{Name: "Hot"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"for", "name"}}},
			codes.InvalidArgument, "update_mask.paths[1]"},
		{"never stored", &fleetv1.SetRuleRequest{Rule: &fleetv1.AlertRule{Name: "Cold"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"condition"}}},
			codes.NotFound, ""},
	} {
		_, err := ac.SetRule(ctx, tt.req)
		if status.Code(err) != tt.code || badRequestField(err) != tt.want {
			t.Errorf("%s: %v, want %v naming %q", tt.name, err, tt.code, tt.want)
		}
	}
}

// TestConcurrentBudgetUpdatesWithOneEtag: two operators read a budget and set their change
// with its etag at once: one wins, the other gets ABORTED with how to retry, and the budget is
// the winner's. A masked update changes only the named field and keeps the rest; a delete
// with a stale etag is refused.
func TestConcurrentBudgetUpdatesWithOneEtag(t *testing.T) {
	cp := fleettest.StartControlPlane(t, fleettest.FastConfig(t))
	cc := fleetv1.NewCostServiceClient(fleettest.Dial(t, cp.GRPCAddr()))
	ctx := context.Background()
	budget := func(limit float64) *fleetv1.Budget {
		return &fleetv1.Budget{Name: "team", Period: fleetv1.BudgetPeriod_BUDGET_PERIOD_DAILY, LimitUsd: limit, Pool: "web", Thresholds: []float64{0.5, 1}}
	}
	if _, err := cc.SetBudget(ctx, &fleetv1.SetBudgetRequest{Budget: budget(10)}); err != nil {
		t.Fatal(err)
	}
	listed := func() *fleetv1.Budget {
		resp, err := cc.ListBudgets(ctx, &fleetv1.ListBudgetsRequest{})
		if err != nil || len(resp.GetBudgets()) != 1 {
			t.Fatalf("ListBudgets = %v, %v; want the one budget", resp, err)
		}
		return resp.GetBudgets()[0].GetBudget()
	}
	for round := range 3 {
		read := listed()
		if read.GetEtag() == "" {
			t.Fatal("ListBudgets returned no etag")
		}
		limits := []float64{float64(100 + round), float64(200 + round)}
		resps := make([]*fleetv1.SetBudgetResponse, 2)
		winner, _ := raceOneEtag(t, "fleetctl cost budgets", func(i int) error {
			var err error
			resps[i], err = cc.SetBudget(ctx, &fleetv1.SetBudgetRequest{Budget: budget(limits[i]), Etag: read.GetEtag()})
			return err
		})
		now := listed()
		if now.GetLimitUsd() != limits[winner] || now.GetEtag() != resps[winner].GetBudget().GetEtag() || now.GetEtag() == read.GetEtag() {
			t.Fatalf("round %d: budget limit %v etag %q; want the winner's %v with etag %q", round, now.GetLimitUsd(), now.GetEtag(), limits[winner], resps[winner].GetBudget().GetEtag())
		}
	}

	stale := listed().GetEtag()
	resp, err := cc.SetBudget(ctx, &fleetv1.SetBudgetRequest{Budget: &fleetv1.Budget{Name: "team", LimitUsd: 7},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"limit_usd"}}})
	if err != nil {
		t.Fatal(err)
	}
	if b := listed(); b.GetLimitUsd() != 7 || b.GetPool() != "web" || b.GetPeriod() != fleetv1.BudgetPeriod_BUDGET_PERIOD_DAILY || len(b.GetThresholds()) != 2 || b.GetEtag() != resp.GetBudget().GetEtag() {
		t.Fatalf("masked update left %v; want limit 7 and the stored pool, period and thresholds", b)
	}
	if _, err := cc.SetBudget(ctx, &fleetv1.SetBudgetRequest{Budget: &fleetv1.Budget{Name: "team", LimitUsd: 8}, Etag: stale,
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"limit_usd"}}}); conflictInfo(err) == nil {
		t.Fatalf("masked SetBudget with a stale etag: %v, want ABORTED", err)
	}
	if _, err := cc.DeleteBudget(ctx, &fleetv1.DeleteBudgetRequest{Name: "team", Etag: stale}); conflictInfo(err) == nil {
		t.Fatalf("DeleteBudget with a stale etag: %v, want ABORTED", err)
	}
	if listed().GetLimitUsd() != 7 {
		t.Fatal("a refused change changed the budget")
	}
}

// TestPricesAndSilencesEtags: the price table and a silence carry etags; a change with a stale
// one is refused ABORTED and changes nothing, with the current one it goes through.
func TestPricesAndSilencesEtags(t *testing.T) {
	cp := fleettest.StartControlPlane(t, fleettest.FastConfig(t))
	conn := fleettest.Dial(t, cp.GRPCAddr())
	cc, ac := fleetv1.NewCostServiceClient(conn), fleetv1.NewAlertServiceClient(conn)
	ctx := context.Background()

	read, err := cc.GetPrices(ctx, &fleetv1.GetPricesRequest{})
	if err != nil || read.GetPrices().GetEtag() == "" {
		t.Fatalf("GetPrices = %v, %v; want an etag", read, err)
	}
	table := func(hourly float64) *fleetv1.Prices {
		return &fleetv1.Prices{Instances: []*fleetv1.InstancePrice{{InstanceType: "m7i.xlarge", OnDemandHourly: hourly, Vcpus: 4, MemoryGib: 16}}}
	}
	set, err := cc.SetPrices(ctx, &fleetv1.SetPricesRequest{Prices: table(0.2), Etag: read.GetPrices().GetEtag()})
	if err != nil || set.GetPrices().GetEtag() == "" || set.GetPrices().GetEtag() == read.GetPrices().GetEtag() {
		t.Fatalf("SetPrices with the current etag = %v, %v; want a new etag", set, err)
	}
	if _, err := cc.SetPrices(ctx, &fleetv1.SetPricesRequest{Prices: table(9), Etag: read.GetPrices().GetEtag()}); conflictInfo(err) == nil {
		t.Fatalf("SetPrices with a stale etag: %v, want ABORTED", err)
	}
	now, err := cc.GetPrices(ctx, &fleetv1.GetPricesRequest{})
	if err != nil || now.GetPrices().GetEtag() != set.GetPrices().GetEtag() || now.GetPrices().GetInstances()[0].GetOnDemandHourly() != 0.2 {
		t.Fatalf("prices after a refused change: %v, %v; want the table set with etag %q", now, err, set.GetPrices().GetEtag())
	}

	created, err := ac.CreateSilence(ctx, &fleetv1.CreateSilenceRequest{Silence: silenceFor("n1")})
	if err != nil || created.GetSilence().GetEtag() == "" {
		t.Fatalf("CreateSilence = %v, %v; want an etag", created, err)
	}
	if _, err := ac.DeleteSilence(ctx, &fleetv1.DeleteSilenceRequest{Id: created.GetSilence().GetId(), Etag: "stale"}); conflictInfo(err) == nil {
		t.Fatalf("DeleteSilence with a stale etag: %v, want ABORTED", err)
	}
	if _, err := ac.DeleteSilence(ctx, &fleetv1.DeleteSilenceRequest{Id: created.GetSilence().GetId(), Etag: created.GetSilence().GetEtag()}); err != nil {
		t.Fatalf("DeleteSilence with the current etag: %v", err)
	}
}

// TestMaintenanceWindowEtag: a window carries an etag on schedule, get and list; a cancel with
// a stale etag is refused ABORTED and leaves the window scheduled, with the window's current
// etag it cancels.
func TestMaintenanceWindowEtag(t *testing.T) {
	cp := fleettest.StartControlPlane(t, fleettest.FastConfig(t))
	mc := fleetv1.NewMaintenanceServiceClient(fleettest.Dial(t, cp.GRPCAddr()))
	ctx := context.Background()
	connect(t, cp, "n1", "i-1")
	connect(t, cp, "n2", "i-2")
	start := time.Now().Add(24 * time.Hour)
	win, err := mc.ScheduleMaintenance(ctx, &fleetv1.ScheduleMaintenanceRequest{Spec: &fleetv1.MaintenanceSpec{Pool: "default",
		Tasks: []*fleetv1.MaintenanceTask{{Kind: fleetv1.MaintenanceTaskKind_MAINTENANCE_TASK_KIND_RESTART}},
		Start: timestamppb.New(start), End: timestamppb.New(start.Add(time.Hour))}})
	if err != nil {
		t.Fatal(err)
	}
	id := win.GetMaintenance().GetId()
	if win.GetMaintenance().GetEtag() == "" {
		t.Fatal("ScheduleMaintenance returned no etag")
	}
	listed, err := mc.ListMaintenance(ctx, &fleetv1.ListMaintenanceRequest{})
	if err != nil || len(listed.GetWindows()) != 1 || listed.GetWindows()[0].GetEtag() == "" {
		t.Fatalf("ListMaintenance = %v, %v; want the window with an etag", listed, err)
	}
	_, err = mc.CancelMaintenance(ctx, &fleetv1.CancelMaintenanceRequest{Id: id, Etag: "stale"})
	if info := conflictInfo(err); info == nil || !strings.Contains(info.GetMetadata()["retry"], "fleetctl maint get "+id) {
		t.Fatalf("CancelMaintenance with a stale etag: %v, want ABORTED with a retry hint", err)
	}
	// Read and retry, as the hint says: the window's own step may change it between a read and
	// the cancel, which is the conflict the etag is for.
	fleettest.Eventually(t, 5*time.Second, "a cancel with the current etag", func() bool {
		got, err := mc.GetMaintenance(ctx, &fleetv1.GetMaintenanceRequest{Id: id})
		if err != nil {
			t.Fatal(err)
		}
		if got.GetMaintenance().GetState() != fleetv1.MaintenanceState_MAINTENANCE_STATE_SCHEDULED {
			t.Fatalf("window is %v before the cancel; the stale cancel changed it", got.GetMaintenance().GetState())
		}
		_, err = mc.CancelMaintenance(ctx, &fleetv1.CancelMaintenanceRequest{Id: id, Etag: got.GetMaintenance().GetEtag()})
		if err != nil && conflictInfo(err) == nil {
			t.Fatalf("CancelMaintenance with the current etag: %v", err)
		}
		return err == nil
	})
}
