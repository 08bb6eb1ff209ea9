package e2e

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/dspyfleet/dspyfleet/agent"
	"github.com/dspyfleet/dspyfleet/internal/fleettest"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// dashPrices: m.test hosts cost 36 USD an hour (a cent a second); the intake's model is priced by
// the table.
var dashPrices = &fleetv1.Prices{
	Instances: []*fleetv1.InstancePrice{{InstanceType: "m.test", OnDemandHourly: 36, SpotHourly: 12, Vcpus: 4, MemoryGib: 16}},
	Models:    []*fleetv1.ModelPrice{{Model: "openai/gpt-4o-mini", InputPerMtok: 10, OutputPerMtok: 30}},
}

// TestDashboardCostAndOperations drives the Cost and Operations pages in a real headless
// Chromium against a real control plane and agents: the spend plot and a budget's plot with
// data points and its limit, host cost by capacity type; a command sent through the API to a
// node whose agent has stopped listed pending with its detail, a read-only login that has no
// Cancel button and whose forged cancel is refused (the command stays pending), and the admin's
// cancel from the page.
func TestDashboardCostAndOperations(t *testing.T) {
	ctx := newBrowser(t)
	cfg := fleettest.FastConfig(t)
	cfg.AgentToken = fleettest.Token(t, dashAgentTok)
	cfg.AdminToken = fleettest.Token(t, dashAdminTok)
	cfg.ReadToken = fleettest.Token(t, dashReadTok)
	cp := fleettest.StartControlPlane(t, cfg)
	adminConn := fleettest.DialToken(t, cp.GRPCAddr(), fleettest.Token(t, dashAdminTok))
	admin := fleetv1.NewFleetServiceClient(adminConn)
	costs := fleetv1.NewCostServiceClient(adminConn)
	maint := fleetv1.NewMaintenanceServiceClient(adminConn)
	bg := context.Background()
	if _, err := costs.SetPrices(bg, &fleetv1.SetPricesRequest{Prices: dashPrices}); err != nil {
		t.Fatal(err)
	}
	ag := startAgentWith(t, cp.GRPCAddr(), "web-1", func(c *agent.Config) {
		c.Token = fleettest.Token(t, dashAgentTok)
		c.Intake.Listen = "127.0.0.1:0"
		c.InstanceType = "m.test"
	})
	startAgentWith(t, cp.GRPCAddr(), "web-2", func(c *agent.Config) {
		c.Token = fleettest.Token(t, dashAgentTok)
		c.InstanceType = "m.test"
		c.Labels = map[string]string{"zone": "b", "purchase": "spot"}
	})
	gone := startAgentWith(t, cp.GRPCAddr(), "batch-1", func(c *agent.Config) {
		c.Token = fleettest.Token(t, dashAgentTok)
		c.Pool = "batch"
	})
	fleettest.Eventually(t, 10*time.Second, "the three nodes ready", func() bool {
		for _, id := range []string{"web-1", "web-2", "batch-1"} {
			if fleettest.NodeState(admin, id) != fleetv1.NodeState_NODE_STATE_READY {
				return false
			}
		}
		return true
	})
	for _, b := range []*fleetv1.Budget{
		{Name: "web-daily", Period: fleetv1.BudgetPeriod_BUDGET_PERIOD_DAILY, LimitUsd: 500, Pool: "web"},
		{Name: "qa-monthly", Period: fleetv1.BudgetPeriod_BUDGET_PERIOD_MONTHLY, LimitUsd: 50, Program: "qa"},
		{Name: "spot-weekly", Period: fleetv1.BudgetPeriod_BUDGET_PERIOD_WEEKLY, LimitUsd: 100, Pool: "web", CapacityType: fleetv1.CapacityType_CAPACITY_TYPE_SPOT},
	} {
		if _, err := costs.SetBudget(bg, &fleetv1.SetBudgetRequest{Budget: b}); err != nil {
			t.Fatal(err)
		}
	}
	sendRequests(t, ag.IntakeAddr(), 200)
	fleettest.Eventually(t, 15*time.Second, "host and token cost of web in the series, the budgets spent", func() bool {
		s, err := costs.GetSeries(bg, &fleetv1.CostServiceGetSeriesRequest{Pool: "web"})
		if err != nil || len(s.GetSeries()) != 1 {
			return false
		}
		host, token := s.GetSeries()[0].GetHostUsd(), s.GetSeries()[0].GetTokenUsd()
		bs, err := costs.ListBudgets(bg, &fleetv1.ListBudgetsRequest{})
		if err != nil || len(bs.GetBudgets()) != 3 {
			return false
		}
		for _, b := range bs.GetBudgets() {
			if b.GetSpendUsd() <= 0 {
				return false
			}
		}
		return host[len(host)-1] > 0 && token[len(token)-1] > 0
	})

	// Operations: batch-1's agent stops, so a restart sent to it through the API stays pending.
	gone.stop(t)
	fleettest.Eventually(t, 10*time.Second, "batch-1 disconnected", func() bool {
		return fleettest.NodeState(admin, "batch-1") != fleetv1.NodeState_NODE_STATE_READY
	})
	sent, err := admin.SendCommand(bg, &fleetv1.SendCommandRequest{NodeId: "batch-1", Kind: fleetv1.CommandKind_COMMAND_KIND_RESTART, Reason: "nightly restart"})
	if err != nil {
		t.Fatal(err)
	}
	id := sent.GetCommand().GetCommand().GetId()
	if _, err := admin.SendCommand(bg, &fleetv1.SendCommandRequest{NodeId: "web-2", Kind: fleetv1.CommandKind_COMMAND_KIND_CLEANUP,
		Params: map[string]string{"dry_run": "true"}, Reason: "disk check"}); err != nil {
		t.Fatal(err)
	}
	if _, err := maint.ScheduleMaintenance(bg, &fleetv1.ScheduleMaintenanceRequest{Spec: &fleetv1.MaintenanceSpec{
		Pool: "web", Cron: "0 3 * * SUN", Duration: durationpb.New(2 * time.Hour),
		Tasks: []*fleetv1.MaintenanceTask{{Kind: fleetv1.MaintenanceTaskKind_MAINTENANCE_TASK_KIND_CLEANUP}}, Reason: "weekly cleanup",
	}}); err != nil {
		t.Fatal(err)
	}
	if _, err := maint.CreateBackup(bg, &fleetv1.CreateBackupRequest{Reason: "before the upgrade"}); err != nil {
		t.Fatal(err)
	}
	// A rolling deployment to web: the agents have no deploy hook, so the first node fails it.
	dep, err := maint.StartDeployment(bg, &fleetv1.StartDeploymentRequest{Spec: &fleetv1.DeploymentSpec{
		Pool: "web", Version: "2.0", Strategy: fleetv1.DeploymentStrategy_DEPLOYMENT_STRATEGY_ROLLING, Reason: "upgrade"}})
	if err != nil {
		t.Fatal(err)
	}
	depID := dep.GetDeployment().GetId()
	fleettest.Eventually(t, 20*time.Second, "the deployment ended", func() bool {
		d, err := maint.GetDeployment(bg, &fleetv1.GetDeploymentRequest{Id: depID})
		return err == nil && d.GetDeployment().GetState() != fleetv1.DeploymentState_DEPLOYMENT_STATE_RUNNING
	})
	base := "http://" + cp.HTTPAddr()
	run(t, ctx, "open the dashboard", chromedp.Navigate(base+"/ui/"))
	login(t, ctx, dashReadTok)

	// Cost: the spend plot and each budget's plot have points, the budget its limit.
	run(t, ctx, "the cost page", chromedp.Navigate(base+"/ui/#/cost"),
		chromedp.WaitVisible(css(`#plot-spend .u-over`)), chromedp.WaitVisible(css(`[data-budget="web-daily"] .u-over`)),
		chromedp.WaitVisible(css(`#capacity tr[data-capacity="on_demand"]`)))
	spendPoints := get(t, ctx, "the spend plot's points", chromedp.Evaluate[int](
		`window.dashboardPlots.spend.data.slice(1).flat().filter(v => v > 0).length`))
	if spendPoints < 2 {
		t.Errorf("the spend plot has %d points above zero, want the total and web's at least", spendPoints)
	}
	if label := get(t, ctx, "the spend plot's series", chromedp.Evaluate[string](`window.dashboardPlots.spend.series.map(s => s.label).join(",")`)); !strings.Contains(label, "web") {
		t.Errorf("the spend plot's series are %q, want one for pool web", label)
	}
	budget := get(t, ctx, "the budget plot", chromedp.Evaluate[[]float64](`(() => {
		const d = window.dashboardPlots["budget-web-daily"].data;
		return [d[1].filter(v => v > 0).length, Math.max(...d[3]), d[2].filter(v => v !== null).length];
	})()`))
	if budget[0] < 1 || budget[1] != 500 || budget[2] != 2 {
		t.Errorf("web-daily's plot: %v spend points above zero, limit line at %v, %v forecast points; want spend, 500 and the forecast from now to the period's end", budget[0], budget[1], budget[2])
	}
	if fig := get(t, ctx, "the budget's figures", chromedp.Text(css(`[data-budget="web-daily"] .budget-figures`))); !strings.Contains(fig, "of $500") || !strings.Contains(fig, "forecast") {
		t.Errorf("web-daily's figures %q, want the spend of $500 and the forecast", fig)
	}
	// The program's budget plots its token cost, the spot budget the host cost of web-2.
	for _, name := range []string{"qa-monthly", "spot-weekly"} {
		run(t, ctx, name+"'s plot", chromedp.WaitVisible(css(`[data-budget="`+name+`"] .u-over`)))
		if n := get(t, ctx, name+"'s spend points", chromedp.Evaluate[int](
			`window.dashboardPlots["budget-`+name+`"].data[1].filter(v => v > 0).length`)); n < 1 {
			t.Errorf("%s's plot has no spend above zero", name)
		}
	}
	run(t, ctx, "live updates", chromedp.WaitVisible(css(`#live.on`)))
	shoot(t, ctx, "cost")

	// Operations as read-only: the command is listed pending, with its detail, and no Cancel.
	row := css(`#op-commands tr[data-command="` + id + `"]`)
	run(t, ctx, "the operations page", chromedp.Navigate(base+"/ui/#/operations"), chromedp.WaitVisible(row),
		chromedp.WaitVisible(css(`#maintenance tr[data-maintenance]`)), chromedp.WaitVisible(css(`#backups tr[data-backup]`)),
		chromedp.WaitVisible(css(`[data-deployment="`+depID+`"] tr[data-deploy-node]`)))
	if st := get(t, ctx, "the command's state", chromedp.Text(css(`#op-commands tr[data-command="`+id+`"] .cmd`))); st != "pending" {
		t.Errorf("the restart of batch-1 is %q on the page, want pending", st)
	}
	run(t, ctx, "filter by node", chromedp.SetValue(css("#ops-node"), "web-2"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector("#ops-node").dispatchEvent(new Event("change"))`),
		chromedp.WaitNotPresent(row))
	if rows := get(t, ctx, "the rows left", chromedp.Evaluate[[]string](
		`[...document.querySelectorAll("#op-commands tbody tr")].map(r => r.cells[1].textContent + " " + r.cells[2].textContent)`)); !slices.Contains(rows, "web-2 cleanup") ||
		slices.ContainsFunc(rows, func(r string) bool { return !strings.HasPrefix(r, "web-2 ") }) {
		t.Errorf("filtered by web-2 the commands are %q, want web-2's only, its cleanup among them", rows)
	}
	run(t, ctx, "clear the filter and open the command", chromedp.SetValue(css("#ops-node"), ""),
		chromedp.Evaluate[chromedp.Void](`document.querySelector("#ops-node").dispatchEvent(new Event("change"))`),
		chromedp.WaitVisible(row), chromedp.Click(row), chromedp.WaitVisible(css(`#command-history tbody tr`)))
	if facts := get(t, ctx, "the command's detail", chromedp.Text(css(`#command-facts`))); !strings.Contains(facts, "batch-1") || !strings.Contains(facts, "nightly restart") {
		t.Errorf("the command's detail lacks its node or reason:\n%s", facts)
	}
	if n := get(t, ctx, "count cancel buttons", chromedp.Evaluate[int](`document.querySelectorAll("button.cancel").length`)); n != 0 {
		t.Errorf("the read-only operations page shows %d cancel buttons", n)
	}
	answer := get(t, ctx, "a forged cancel", chromedp.Evaluate[string](
		`fetch("/ui/api/commands/`+id+`/cancel", {method: "POST", headers: {"X-CSRF-Token": state.session.csrf}}).then(r => r.status + " " + r.statusText)`,
		chromedp.EvalAwaitPromise))
	if !strings.HasPrefix(answer, "403") {
		t.Errorf("a cancel with the read-only token answered %q, want 403", answer)
	}
	if c, err := admin.GetCommand(bg, &fleetv1.GetCommandRequest{Id: id}); err != nil || c.GetCommand().GetState() != fleetv1.CommandState_COMMAND_STATE_PENDING {
		t.Fatalf("after the read-only cancel the command is %v, %v; want pending", c.GetCommand().GetState(), err)
	}

	// The admin cancels it from the page.
	run(t, ctx, "log out", chromedp.WaitVisible(css(`#logout button`)), chromedp.Click(css(`#logout button`)), chromedp.WaitVisible(css("#token")))
	login(t, ctx, dashAdminTok)
	cancel := css(`#op-commands tr[data-command="` + id + `"] button.cancel`)
	run(t, ctx, "the operations page as admin", chromedp.Navigate(base+"/ui/#/operations"), chromedp.WaitVisible(cancel))
	run(t, ctx, "live updates", chromedp.WaitVisible(css(`#live.on`)))
	shoot(t, ctx, "operations")
	run(t, ctx, "cancel from the page", chromedp.Click(cancel), chromedp.WaitVisible(css(`.notice.ok`)),
		chromedp.WaitVisible(css(`#op-commands tr[data-command="`+id+`"] .cmd.cancelled`)))
	if c, err := admin.GetCommand(bg, &fleetv1.GetCommandRequest{Id: id}); err != nil || c.GetCommand().GetState() != fleetv1.CommandState_COMMAND_STATE_CANCELLED {
		t.Errorf("after the admin's cancel the command is %v, %v; want cancelled", c.GetCommand().GetState(), err)
	}
}
