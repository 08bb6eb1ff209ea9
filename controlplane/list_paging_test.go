package controlplane_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dspyfleet/dspyfleet/internal/fleettest"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// nodeRule is a valid rule named name.
func nodeRule(name string) *fleetv1.AlertRule {
	return &fleetv1.AlertRule{Name: name, Scope: fleetv1.RuleScope_RULE_SCOPE_NODE,
		Severity: fleetv1.AlertSeverity_ALERT_SEVERITY_INFO, Condition: "node.host.cpu > 99"}
}

// silenceFor is a silence of node's alerts for the next hour.
func silenceFor(node string) *fleetv1.Silence {
	now := time.Now()
	return &fleetv1.Silence{Matchers: []*fleetv1.SilenceMatcher{{Name: "node", Value: node}},
		Start: timestamppb.New(now), End: timestamppb.New(now.Add(time.Hour)), Author: "test"}
}

// TestListAuditPagesEachRecordOnceWithConcurrentInserts pages through the audit trail, seven
// records a page, while another operator keeps making audited changes: every record stored
// before the walk is listed exactly once and none twice. Offset paging would list a record
// again on the next page for every record inserted meanwhile.
func TestListAuditPagesEachRecordOnceWithConcurrentInserts(t *testing.T) {
	cp := fleettest.StartControlPlane(t, fleettest.FastConfig(t))
	conn := fleettest.Dial(t, cp.GRPCAddr())
	fc, ac := fleetv1.NewFleetServiceClient(conn), fleetv1.NewAlertServiceClient(conn)
	ctx := context.Background()
	for i := range 150 {
		if _, err := ac.SetRule(ctx, &fleetv1.SetRuleRequest{Rule: nodeRule(fmt.Sprintf("before-%03d", i))}); err != nil {
			t.Fatal(err)
		}
	}
	all, err := fc.ListAudit(ctx, &fleetv1.ListAuditRequest{PageSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	before := map[string]bool{}
	for _, r := range all.GetRecords() {
		before[r.GetId()] = true
	}
	if len(before) < 150 || all.GetNextPageToken() != "" {
		t.Fatalf("%d audit records before the walk (next token %q), want every one of the 150 changes", len(before), all.GetNextPageToken())
	}

	var inserted atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := ac.SetRule(ctx, &fleetv1.SetRuleRequest{Rule: nodeRule(fmt.Sprintf("during-%04d", i%500))}); err != nil {
				t.Error(err)
				return
			}
			inserted.Add(1)
		}
	})
	seen := map[string]int{}
	req := &fleetv1.ListAuditRequest{PageSize: 7}
	for pages := 0; ; pages++ {
		resp, err := fc.ListAudit(ctx, req)
		if err != nil {
			t.Fatalf("page %d: %v", pages, err)
		}
		if len(resp.GetRecords()) > 7 {
			t.Fatalf("page %d has %d records, more than page_size 7", pages, len(resp.GetRecords()))
		}
		for _, r := range resp.GetRecords() {
			seen[r.GetId()]++
		}
		if resp.GetNextPageToken() == "" {
			break
		}
		// Between pages, at least one change lands, whatever the other goroutine's pace.
		if _, err := ac.SetRule(ctx, &fleetv1.SetRuleRequest{Rule: nodeRule(fmt.Sprintf("between-%03d", pages%300))}); err != nil {
			t.Fatal(err)
		}
		req = &fleetv1.ListAuditRequest{PageSize: 7, PageToken: resp.GetNextPageToken()}
	}
	close(stop)
	wg.Wait()
	for id := range before {
		if seen[id] != 1 {
			t.Errorf("record %s listed %d times, want once", id, seen[id])
		}
	}
	for id, n := range seen {
		if n > 1 {
			t.Errorf("record %s listed %d times", id, n)
		}
	}
	if inserted.Load() == 0 {
		t.Error("no change landed during the walk")
	}
}

// TestListRulesPagesEachRuleOnceWithInsertsAndDeletes pages through 300 rules while rules are
// added before and after the cursor and others deleted between pages: every rule stored for the
// whole walk is listed exactly once, none twice, and a deleted rule not yet reached is not
// listed.
func TestListRulesPagesEachRuleOnceWithInsertsAndDeletes(t *testing.T) {
	cp := fleettest.StartControlPlane(t, fleettest.FastConfig(t))
	ac := alertClient(t, cp)
	ctx := context.Background()
	for i := range 300 {
		if _, err := ac.SetRule(ctx, &fleetv1.SetRuleRequest{Rule: nodeRule(fmt.Sprintf("r-%03d", i))}); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]int{}
	deleted, deletedAhead := map[string]bool{}, map[string]bool{}
	req := &fleetv1.ListRulesRequest{PageSize: 25}
	for pages := 0; ; pages++ {
		resp, err := ac.ListRules(ctx, req)
		if err != nil {
			t.Fatalf("page %d: %v", pages, err)
		}
		for _, r := range resp.GetRules() {
			seen[r.GetName()]++
			if r.GetEtag() == "" {
				t.Fatalf("rule %s listed without an etag", r.GetName())
			}
		}
		if resp.GetNextPageToken() == "" {
			break
		}
		last := resp.GetRules()[len(resp.GetRules())-1].GetName()
		for _, name := range []string{fmt.Sprintf("a-new-%02d", pages), last + "-new"} {
			if _, err := ac.SetRule(ctx, &fleetv1.SetRuleRequest{Rule: nodeRule(name)}); err != nil {
				t.Fatal(err)
			}
		}
		gone := fmt.Sprintf("r-%03d", 299-pages)
		if _, err := ac.DeleteRule(ctx, &fleetv1.DeleteRuleRequest{Name: gone}); err != nil {
			t.Fatal(err)
		}
		deleted[gone] = true
		deletedAhead[gone] = gone > last
		req = &fleetv1.ListRulesRequest{PageSize: 25, PageToken: resp.GetNextPageToken()}
	}
	for i := range 300 {
		name := fmt.Sprintf("r-%03d", i)
		if !deleted[name] && seen[name] != 1 {
			t.Errorf("%s listed %d times, want once", name, seen[name])
		}
	}
	for name, n := range seen {
		if n > 1 {
			t.Errorf("%s listed %d times", name, n)
		}
	}
	if len(deleted) == 0 {
		t.Fatal("no rule was deleted between pages: the walk had one page")
	}
	for name, ahead := range deletedAhead {
		if ahead && seen[name] > 0 {
			t.Errorf("%s was deleted before the walk reached it but was listed", name)
		}
	}
}

// TestListPageTokensRefused: every paged List RPC refuses a made-up page token and a negative
// page size with InvalidArgument naming the field, and a token from one call's filters on
// another's.
func TestListPageTokensRefused(t *testing.T) {
	cp := fleettest.StartControlPlane(t, fleettest.FastConfig(t))
	conn := fleettest.Dial(t, cp.GRPCAddr())
	ac, cc := fleetv1.NewAlertServiceClient(conn), fleetv1.NewCostServiceClient(conn)
	mc, fc := fleetv1.NewMaintenanceServiceClient(conn), fleetv1.NewFleetServiceClient(conn)
	sc, lc := fleetv1.NewScalingServiceClient(conn), fleetv1.NewLogServiceClient(conn)
	ctx := context.Background()
	const bad = "bm90LWEtdG9rZW4"
	calls := map[string]func(token string, size int32) error{
		"ListRules": func(tok string, n int32) error {
			_, err := ac.ListRules(ctx, &fleetv1.ListRulesRequest{PageToken: tok, PageSize: n})
			return err
		},
		"ListAlerts": func(tok string, n int32) error {
			_, err := ac.ListAlerts(ctx, &fleetv1.ListAlertsRequest{PageToken: tok, PageSize: n})
			return err
		},
		"ListSilences": func(tok string, n int32) error {
			_, err := ac.ListSilences(ctx, &fleetv1.ListSilencesRequest{PageToken: tok, PageSize: n})
			return err
		},
		"ListEvents": func(tok string, n int32) error {
			_, err := ac.ListEvents(ctx, &fleetv1.AlertServiceListEventsRequest{PageToken: tok, PageSize: n})
			return err
		},
		"ListDeliveries": func(tok string, n int32) error {
			_, err := ac.ListDeliveries(ctx, &fleetv1.ListDeliveriesRequest{PageToken: tok, PageSize: n})
			return err
		},
		"ListBudgets": func(tok string, n int32) error {
			_, err := cc.ListBudgets(ctx, &fleetv1.ListBudgetsRequest{PageToken: tok, PageSize: n})
			return err
		},
		"ListRecommendations": func(tok string, n int32) error {
			_, err := cc.ListRecommendations(ctx, &fleetv1.ListRecommendationsRequest{PageToken: tok, PageSize: n})
			return err
		},
		"ListBackups": func(tok string, n int32) error {
			_, err := mc.ListBackups(ctx, &fleetv1.ListBackupsRequest{PageToken: tok, PageSize: n})
			return err
		},
		"ListDeployments": func(tok string, n int32) error {
			_, err := mc.ListDeployments(ctx, &fleetv1.ListDeploymentsRequest{PageToken: tok, PageSize: n})
			return err
		},
		"ListMaintenance": func(tok string, n int32) error {
			_, err := mc.ListMaintenance(ctx, &fleetv1.ListMaintenanceRequest{PageToken: tok, PageSize: n})
			return err
		},
		"ListAudit": func(tok string, n int32) error {
			_, err := fc.ListAudit(ctx, &fleetv1.ListAuditRequest{PageToken: tok, PageSize: n})
			return err
		},
		"ListDecisions": func(tok string, n int32) error {
			_, err := sc.ListDecisions(ctx, &fleetv1.ScalingServiceListDecisionsRequest{PageToken: tok, PageSize: n})
			return err
		},
		"ListTopTemplates": func(tok string, n int32) error {
			_, err := lc.ListTopTemplates(ctx, &fleetv1.ListTopTemplatesRequest{PageToken: tok, PageSize: n})
			return err
		},
	}
	for name, call := range calls {
		if err := call(bad, 0); status.Code(err) != codes.InvalidArgument || badRequestField(err) != "page_token" {
			t.Errorf("%s with a made-up token: %v, want InvalidArgument naming page_token", name, err)
		}
		if err := call("", -1); status.Code(err) != codes.InvalidArgument || badRequestField(err) != "page_size" {
			t.Errorf("%s with page_size -1: %v, want InvalidArgument naming page_size", name, err)
		}
	}
	for i := range 3 {
		if _, err := ac.CreateSilence(ctx, &fleetv1.CreateSilenceRequest{Silence: silenceFor(fmt.Sprintf("n%d", i))}); err != nil {
			t.Fatal(err)
		}
	}
	first, err := ac.ListSilences(ctx, &fleetv1.ListSilencesRequest{PageSize: 1})
	if err != nil || first.GetNextPageToken() == "" || len(first.GetSilences()) != 1 {
		t.Fatalf("first page of silences: %v, %v; want one and a token", first, err)
	}
	_, err = ac.ListSilences(ctx, &fleetv1.ListSilencesRequest{PageSize: 1, PageToken: first.GetNextPageToken(), IncludeExpired: true})
	if status.Code(err) != codes.InvalidArgument || badRequestField(err) != "page_token" {
		t.Errorf("a silences token on other filters: %v, want InvalidArgument naming page_token", err)
	}
}
