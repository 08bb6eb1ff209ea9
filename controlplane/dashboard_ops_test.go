package controlplane_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dspyfleet/dspyfleet/internal/fleettest"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// disconnectedNode registers id through an agent session that then ends, and waits until the
// node is no longer connected: commands sent to it stay pending.
func disconnectedNode(t *testing.T, cp *fleettest.ControlPlane, admin fleetv1.FleetServiceClient, id string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s, err := fleetv1.NewAgentServiceClient(fleettest.DialToken(t, cp.GRPCAddr(), fleettest.Token(t, agentTok))).Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	send(t, s, hello(id, "i-"+id))
	if m, err := s.Recv(); err != nil || m.GetWelcome() == nil {
		t.Fatalf("want Welcome, got %v, %v", m, err)
	}
	cancel()
	fleettest.Eventually(t, 10*time.Second, id+" disconnected", func() bool {
		n := fleettest.Node(t, admin, id)
		return n.GetState() != fleetv1.NodeState_NODE_STATE_READY && n.GetState() != fleetv1.NodeState_NODE_STATE_UNSPECIFIED
	})
}

// silentAgent connects id in pool with an agent session that reports every 100 ms and never
// answers a command: a deployment's drain of it stays in progress. It ends with the test.
func silentAgent(t *testing.T, cp *fleettest.ControlPlane, id, pool string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s, err := fleetv1.NewAgentServiceClient(fleettest.DialToken(t, cp.GRPCAddr(), fleettest.Token(t, agentTok))).Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	send(t, s, &fleetv1.ConnectRequest{Msg: &fleetv1.ConnectRequest_Hello{Hello: &fleetv1.Hello{
		NodeId: id, InstanceId: "i-" + id, Pool: pool, ReportInterval: durationpb.New(100 * time.Millisecond)}}})
	if m, err := s.Recv(); err != nil || m.GetWelcome() == nil {
		t.Fatalf("want Welcome, got %v, %v", m, err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for seq := uint64(1); ; seq++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			if s.Send(&fleetv1.ConnectRequest{Msg: &fleetv1.ConnectRequest_Report{Report: &fleetv1.MetricsReport{
				Seq: seq, Time: timestamppb.Now(), Window: durationpb.New(100 * time.Millisecond), Host: &fleetv1.HostMetrics{CpuPercent: 5}}}}) != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

// TestDashboardOperationsAndCost checks the operations and cost endpoints over plain HTTP: the
// command list and its filters, a command's detail, bad filters answered 400 naming the field,
// a read-only session refused cancel and deployment actions (the command and a deployment held
// on a node that never answers its drain untouched), the admin's cancel without the CSRF token refused and with it done and
// audited, the admin's pause, resume and abort of the deployment, and the cost view with a
// budget's period plotted against its limit.
func TestDashboardOperationsAndCost(t *testing.T) {
	var logs lockedBuffer
	cp := fleettest.StartControlPlane(t, tokenConfig(t, &logs))
	admin := fleetAs(t, cp, adminTok)
	ctx := context.Background()
	disconnectedNode(t, cp, admin, "n1")
	sent, err := admin.SendCommand(ctx, &fleetv1.SendCommandRequest{NodeId: "n1", Kind: fleetv1.CommandKind_COMMAND_KIND_RESTART, Reason: "test"})
	if err != nil {
		t.Fatal(err)
	}
	id := sent.GetCommand().GetCommand().GetId()
	costs := fleetv1.NewCostServiceClient(fleettest.DialToken(t, cp.GRPCAddr(), fleettest.Token(t, adminTok)))
	if _, err := costs.SetBudget(ctx, &fleetv1.SetBudgetRequest{Budget: &fleetv1.Budget{Name: "fleet", Period: fleetv1.BudgetPeriod_BUDGET_PERIOD_DAILY, LimitUsd: 10}}); err != nil {
		t.Fatal(err)
	}
	fleettest.Eventually(t, 10*time.Second, "the budget evaluated", func() bool {
		bs, err := costs.ListBudgets(ctx, &fleetv1.ListBudgetsRequest{})
		return err == nil && len(bs.GetBudgets()) == 1 && bs.GetBudgets()[0].GetPeriodStart() != nil
	})

	d := newDashClient(t, cp)
	if code, _, _ := d.login(readTok); code != http.StatusSeeOther {
		t.Fatalf("read-only login: %d", code)
	}
	type row struct{ ID, Node, Kind, State string }
	list := func(query string) []row {
		t.Helper()
		code, body, _ := d.do("GET", "/ui/api/commands"+query, nil, nil)
		var rows []row
		if code != http.StatusOK || json.Unmarshal([]byte(body), &rows) != nil {
			t.Fatalf("GET /ui/api/commands%s: %d %s", query, code, body)
		}
		return rows
	}
	if rows := list(""); len(rows) != 1 || rows[0] != (row{id, "n1", "restart", "pending"}) {
		t.Errorf("commands: %v, want the pending restart of n1", rows)
	}
	if rows := list("?node=n1&state=pending&kind=restart"); len(rows) != 1 {
		t.Errorf("commands of n1, pending, restart: %v, want the one", rows)
	}
	for _, q := range []string{"?state=succeeded", "?kind=drain", "?node=n2"} {
		if rows := list(q); len(rows) != 0 {
			t.Errorf("commands%s: %v, want none", q, rows)
		}
	}
	for q, want := range map[string]string{"?state=asleep": `state: \"asleep\"`, "?kind=reboot": `kind: \"reboot\"`, "?node=no%20node": `node_id: \"no node\"`} {
		if code, body, _ := d.do("GET", "/ui/api/commands"+q, nil, nil); code != http.StatusBadRequest || !strings.Contains(body, want) {
			t.Errorf("commands%s: %d %s, want 400 naming %q", q, code, body, want)
		}
	}
	if code, body, _ := d.do("GET", "/ui/api/commands/"+id, nil, nil); code != http.StatusOK || !strings.Contains(body, `"COMMAND_STATE_PENDING"`) || !strings.Contains(body, `"history"`) {
		t.Errorf("command detail: %d %s, want the pending command with its history", code, body)
	}
	if code, body, _ := d.do("GET", "/ui/api/operations", nil, nil); code != http.StatusOK || !strings.Contains(body, `"deployments":{"deployments":[]`) || !strings.Contains(body, `"backups"`) {
		t.Errorf("operations: %d %s, want empty deployments and the backups", code, body)
	}

	// Read-only: every change refused by the dashboard, the command still pending, the
	// deployment still running.
	maint := fleetv1.NewMaintenanceServiceClient(fleettest.DialToken(t, cp.GRPCAddr(), fleettest.Token(t, adminTok)))
	silentAgent(t, cp, "d1", "deploy")
	dep, err := maint.StartDeployment(ctx, &fleetv1.StartDeploymentRequest{Spec: &fleetv1.DeploymentSpec{
		Pool: "deploy", Version: "2.0", Strategy: fleetv1.DeploymentStrategy_DEPLOYMENT_STRATEGY_ROLLING}})
	if err != nil {
		t.Fatal(err)
	}
	depID := dep.GetDeployment().GetId()
	csrf := d.csrf()
	for _, path := range []string{"/ui/api/commands/" + id + "/cancel", "/ui/api/deployments/" + depID + "/abort", "/ui/api/deployments/" + depID + "/pause"} {
		if code, body, _ := d.do("POST", path, nil, map[string]string{"X-CSRF-Token": csrf}); code != http.StatusForbidden || !strings.Contains(body, "read-only") {
			t.Errorf("read-only POST %s: %d %s, want 403 naming the role", path, code, body)
		}
	}
	if got, err := admin.GetCommand(ctx, &fleetv1.GetCommandRequest{Id: id}); err != nil || got.GetCommand().GetState() != fleetv1.CommandState_COMMAND_STATE_PENDING {
		t.Fatalf("after the read-only cancel the command is %v, %v; want pending", got.GetCommand().GetState(), err)
	}
	if got, err := maint.GetDeployment(ctx, &fleetv1.GetDeploymentRequest{Id: depID}); err != nil || got.GetDeployment().GetState() != fleetv1.DeploymentState_DEPLOYMENT_STATE_RUNNING {
		t.Fatalf("after the read-only pause and abort the deployment is %v, %v; want running", got.GetDeployment().GetState(), err)
	}

	// Cost: the fleet budget's day, from its start to its end, against its limit.
	code, body, _ := d.do("GET", "/ui/api/cost?range=1w&by=model", nil, nil)
	var cv struct {
		Range, By string
		T         []int64
		Budgets   []struct {
			Status struct {
				PeriodStart, PeriodEnd time.Time
			}
			Plot struct {
				T        []int64
				Spend    []*float64
				Forecast []*float64
				Limit    []float64
			}
		}
	}
	if code != http.StatusOK || json.Unmarshal([]byte(body), &cv) != nil {
		t.Fatalf("GET /ui/api/cost: %d %s", code, body)
	}
	if cv.Range != "1w" || cv.By != "model" || len(cv.T) < 7*24 || len(cv.Budgets) != 1 {
		t.Fatalf("cost view over %s by %s with %d points and %d budgets, want 1w by model, a week by hour and one budget", cv.Range, cv.By, len(cv.T), len(cv.Budgets))
	}
	b := cv.Budgets[0]
	n := len(b.Plot.T)
	if n < 3 || b.Plot.T[0] != b.Status.PeriodStart.Unix() || b.Plot.T[n-1] != b.Status.PeriodEnd.Unix() ||
		b.Plot.Forecast[n-1] == nil || b.Plot.Spend[n-1] != nil || b.Plot.Limit[0] != 10 || b.Plot.Limit[n-1] != 10 {
		t.Errorf("budget plot %+v over [%s, %s]: want the period from start to end, limit 10, the forecast at the end", b.Plot, b.Status.PeriodStart, b.Status.PeriodEnd)
	}
	for q, want := range map[string]string{"?range=1y": "range: 1y", "?by=node": "by: node"} {
		if code, body, _ := d.do("GET", "/ui/api/cost"+q, nil, nil); code != http.StatusBadRequest || !strings.Contains(body, want) {
			t.Errorf("cost%s: %d %s, want 400 naming %q", q, code, body, want)
		}
	}

	// Admin: cancel needs the CSRF token, then cancels; an unknown deployment is the service's 404.
	if code, _, _ := d.do("POST", "/ui/logout", nil, nil); code != http.StatusSeeOther {
		t.Fatalf("logout: %d", code)
	}
	if code, _, _ := d.login(adminTok); code != http.StatusSeeOther {
		t.Fatalf("admin login: %d", code)
	}
	cancelPath := "/ui/api/commands/" + id + "/cancel"
	if code, body, _ := d.do("POST", cancelPath, nil, nil); code != http.StatusForbidden || !strings.Contains(body, "X-CSRF-Token") {
		t.Errorf("cancel without the CSRF token: %d %s, want 403", code, body)
	}
	csrf = d.csrf()
	if code, _, _ := d.do("POST", cancelPath, nil, map[string]string{"X-CSRF-Token": csrf, "Sec-Fetch-Site": "cross-site"}); code != http.StatusForbidden {
		t.Errorf("cancel from another site: %d, want 403", code)
	}
	if code, body, _ := d.do("POST", cancelPath, nil, map[string]string{"X-CSRF-Token": csrf}); code != http.StatusOK || !strings.Contains(body, `"state":"cancelled"`) {
		t.Errorf("admin cancel: %d %s, want 200 and the cancelled command", code, body)
	}
	if got, err := admin.GetCommand(ctx, &fleetv1.GetCommandRequest{Id: id}); err != nil || got.GetCommand().GetState() != fleetv1.CommandState_COMMAND_STATE_CANCELLED {
		t.Errorf("after the admin's cancel the command is %v, %v; want cancelled", got.GetCommand().GetState(), err)
	}
	if code, body, _ := d.do("POST", cancelPath, nil, map[string]string{"X-CSRF-Token": csrf}); code != http.StatusConflict {
		t.Errorf("a second cancel: %d %s, want 409 from the service", code, body)
	}
	for _, step := range []struct{ action, state string }{{"pause", "DEPLOYMENT_STATE_PAUSED"}, {"resume", "DEPLOYMENT_STATE_RUNNING"}, {"abort", "DEPLOYMENT_STATE_ABORTED"}} {
		code, body, _ := d.do("POST", "/ui/api/deployments/"+depID+"/"+step.action, nil, map[string]string{"X-CSRF-Token": csrf})
		if code != http.StatusOK || !strings.Contains(body, `"state":"`+step.state+`"`) {
			t.Fatalf("admin %s of %s: %d %s, want 200 and %s", step.action, depID, code, body, step.state)
		}
		got, err := maint.GetDeployment(ctx, &fleetv1.GetDeploymentRequest{Id: depID})
		if err != nil || got.GetDeployment().GetState().String() != step.state {
			t.Fatalf("after the %s the deployment is %v, %v; want %s", step.action, got.GetDeployment().GetState(), err, step.state)
		}
	}
	if code, body, _ := d.do("POST", "/ui/api/deployments/d-none/abort", nil, map[string]string{"X-CSRF-Token": csrf}); code != http.StatusNotFound || !strings.Contains(body, "d-none") {
		t.Errorf("abort of an unknown deployment: %d %s, want 404 from the service naming it", code, body)
	}
	if code, body, _ := d.do("POST", "/ui/api/deployments/d-none/explode", nil, map[string]string{"X-CSRF-Token": csrf}); code != http.StatusNotFound || !strings.Contains(body, `action: \"explode\"`) {
		t.Errorf("an unknown deployment action: %d %s, want 404 naming the action", code, body)
	}
	audit, err := admin.ListAudit(ctx, &fleetv1.ListAuditRequest{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var cancels []*fleetv1.AuditRecord
	for _, r := range audit.GetRecords() {
		if r.GetMethod() == fleetv1.FleetService_CancelCommand_FullMethodName {
			cancels = append(cancels, r)
		}
	}
	if len(cancels) != 2 || cancels[1].GetIdentity() != "admin" || cancels[1].GetTarget() != id || cancels[1].GetCode() != "OK" || cancels[0].GetCode() == "OK" {
		t.Errorf("CancelCommand audit records: %v, want the admin's cancel of %s and the refused second one", cancels, id)
	}
	if strings.Contains(logs.String(), adminTok) || strings.Contains(logs.String(), readTok) {
		t.Error("a token is in the log")
	}
}
