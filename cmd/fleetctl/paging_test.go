package main

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/dspyfleet/dspyfleet/internal/fleettest"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// TestListAllPagesTransparently: "audit --limit" over more records than one page holds reads
// them over pages, each record once, newest first; listAll with no limit reads to the last page
// and merges every page into one response without a next token.
func TestListAllPagesTransparently(t *testing.T) {
	cp := fleettest.StartControlPlane(t, fleettest.FastConfig(t))
	t.Setenv("DSPYFLEET_ADDR", cp.GRPCAddr())
	conn := fleettest.Dial(t, cp.GRPCAddr())
	ac, fc := fleetv1.NewAlertServiceClient(conn), fleetv1.NewFleetServiceClient(conn)
	ctx := context.Background()
	const changes = listPageSize + 150
	for i := range changes {
		rule := &fleetv1.AlertRule{Name: fmt.Sprintf("r-%d", i%100), Scope: fleetv1.RuleScope_RULE_SCOPE_NODE,
			Severity: fleetv1.AlertSeverity_ALERT_SEVERITY_INFO, Condition: "node.host.cpu > 99"}
		if _, err := ac.SetRule(ctx, &fleetv1.SetRuleRequest{Rule: rule}); err != nil {
			t.Fatal(err)
		}
	}

	var out, errOut bytes.Buffer
	if code := run(ctx, []string{"audit", "--limit", fmt.Sprint(changes - 20), "-o", "json"}, &out, &errOut); code != exitOK {
		t.Fatalf("audit: %d %s", code, errOut.String())
	}
	var resp fleetv1.ListAuditResponse
	if err := protojson.Unmarshal(out.Bytes(), &resp); err != nil {
		t.Fatal(err)
	}
	if len(resp.GetRecords()) != changes-20 || resp.GetNextPageToken() != "" {
		t.Fatalf("audit --limit %d printed %d records (next token %q)", changes-20, len(resp.GetRecords()), resp.GetNextPageToken())
	}
	seen := map[string]bool{}
	for i, r := range resp.GetRecords() {
		if seen[r.GetId()] {
			t.Fatalf("record %s printed twice", r.GetId())
		}
		seen[r.GetId()] = true
		if i > 0 && r.GetId() > resp.GetRecords()[i-1].GetId() {
			t.Fatalf("record %d (%s) is newer than the one before it", i, r.GetId())
		}
	}

	all, err := listAll(ctx, &fleetv1.ListAuditRequest{}, 0, fc.ListAudit)
	if err != nil {
		t.Fatal(err)
	}
	if len(all.GetRecords()) != changes || all.GetNextPageToken() != "" {
		t.Fatalf("listAll without a limit: %d records, next token %q; want all %d", len(all.GetRecords()), all.GetNextPageToken(), changes)
	}
}
