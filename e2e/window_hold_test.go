package e2e

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/dspyfleet/dspyfleet/agent"
	"github.com/dspyfleet/dspyfleet/internal/fleettest"
	cmdspec "github.com/dspyfleet/dspyfleet/pkg/command"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// manualClock is the control plane's clock in these tests: it stands still until set.
type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *manualClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *manualClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// restartLog records the restart commands an agent ran, in order.
type restartLog struct {
	mu  sync.Mutex
	ids []string
}

func (l *restartLog) ran() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.ids)
}

// windowFleet is a control plane on a manual clock at 10:00 UTC, with real agents p1 and p2 in
// pool P and q1 in pool Q, each recording the restarts it runs.
type windowFleet struct {
	clock    *manualClock
	day      time.Time // 00:00 UTC of the clock's first day
	fleet    fleetv1.FleetServiceClient
	maint    fleetv1.MaintenanceServiceClient
	alerts   fleetv1.AlertServiceClient
	restarts map[string]*restartLog
}

func startWindowFleet(t *testing.T) *windowFleet {
	t.Helper()
	// The clock starts at 10:00 UTC tomorrow, ahead of the agents' clocks, so their reports are
	// never ahead of the control plane's (--max-clock-skew).
	day := time.Now().UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)
	wf := &windowFleet{clock: &manualClock{t: day.Add(10 * time.Hour)}, day: day, restarts: map[string]*restartLog{}}
	cfg := fleettest.FastConfig(t)
	cfg.Now = wf.clock.now
	// The clock jumps by hours: a grace longer than the jump keeps the agents' sessions through it.
	cfg.TTLGrace = 72 * time.Hour
	cp := fleettest.StartControlPlane(t, cfg)
	conn := fleettest.Dial(t, cp.GRPCAddr())
	wf.fleet, wf.maint, wf.alerts = fleetv1.NewFleetServiceClient(conn), fleetv1.NewMaintenanceServiceClient(conn), fleetv1.NewAlertServiceClient(conn)
	deleteAllRules(t, wf.alerts)
	for id, pool := range map[string]string{"p1": "P", "p2": "P", "q1": "Q"} {
		log := &restartLog{}
		wf.restarts[id] = log
		startAgentWith(t, cp.GRPCAddr(), id, func(c *agent.Config) {
			c.Pool = pool
			c.Actions = map[cmdspec.Kind]agent.Action{
				cmdspec.Restart: agent.ActionFunc(func(_ context.Context, cmd *fleetv1.Command) (agent.Outcome, error) {
					log.mu.Lock()
					log.ids = append(log.ids, cmd.GetId())
					log.mu.Unlock()
					return agent.Outcome{Detail: "restarted"}, nil
				}),
				cmdspec.Custom: agent.ActionFunc(func(context.Context, *fleetv1.Command) (agent.Outcome, error) {
					return agent.Outcome{Detail: "marked"}, nil
				}),
			}
		})
	}
	for _, id := range []string{"p1", "p2", "q1"} {
		waitState(t, wf.fleet, id, ready, 10*time.Second)
	}
	return wf
}

// scheduleNightly schedules a window 02:00–03:00 UTC every day on pool P and returns its id.
func (wf *windowFleet) scheduleNightly(t *testing.T) string {
	t.Helper()
	resp, err := wf.maint.ScheduleMaintenance(context.Background(), &fleetv1.ScheduleMaintenanceRequest{Spec: &fleetv1.MaintenanceSpec{
		Pool: "P", Cron: "0 2 * * *", Duration: durationpb.New(time.Hour), Reason: "nightly",
		Tasks: []*fleetv1.MaintenanceTask{{Kind: fleetv1.MaintenanceTaskKind_MAINTENANCE_TASK_KIND_CUSTOM, Action: "mark"}}}})
	if err != nil {
		t.Fatal(err)
	}
	m := resp.GetMaintenance()
	if opens := wf.day.Add(26 * time.Hour); !m.GetOpens().AsTime().Equal(opens) {
		t.Fatalf("the window opens %s, want %s", m.GetOpens().AsTime(), opens)
	}
	return m.GetId()
}

// send sends a restart to node, overriding the window when now is set.
func (wf *windowFleet) send(t *testing.T, node string, now bool) *fleetv1.CommandRecord {
	t.Helper()
	resp, err := wf.fleet.SendCommand(context.Background(), &fleetv1.SendCommandRequest{NodeId: node, Kind: fleetv1.CommandKind_COMMAND_KIND_RESTART,
		Reason: "test", OverrideWindow: now})
	if err != nil {
		t.Fatal(err)
	}
	return resp.GetCommand()
}

// waitCommand waits until command id is in state want and returns it.
func (wf *windowFleet) waitCommand(t *testing.T, id string, want fleetv1.CommandState) *fleetv1.CommandRecord {
	t.Helper()
	var rec *fleetv1.CommandRecord
	fleettest.Eventually(t, 10*time.Second, "command "+id+" "+want.String(), func() bool {
		resp, err := wf.fleet.GetCommand(context.Background(), &fleetv1.GetCommandRequest{Id: id})
		rec = resp.GetCommand()
		return err == nil && rec.GetState() == want
	})
	return rec
}

func (wf *windowFleet) command(t *testing.T, id string) *fleetv1.CommandRecord {
	t.Helper()
	resp, err := wf.fleet.GetCommand(context.Background(), &fleetv1.GetCommandRequest{Id: id})
	if err != nil {
		t.Fatal(err)
	}
	return resp.GetCommand()
}

// sendAudit returns the details of the SendCommand audit records naming node.
func (wf *windowFleet) sendAudit(t *testing.T, node string) []string {
	t.Helper()
	resp, err := wf.fleet.ListAudit(context.Background(), &fleetv1.ListAuditRequest{Target: node})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range resp.GetRecords() {
		if r.GetMethod() == fleetv1.FleetService_SendCommand_FullMethodName {
			out = append(out, r.GetDetail())
		}
	}
	return out
}

// TestWindowHoldsDisruptiveCommands: with a 02:00–03:00 window on pool P, a restart sent to a
// node of P at 10:00 is held (its agent receives nothing) until the clock reaches 02:00, when
// it is delivered; a restart sent with the override goes at once and the audit says which
// window it overrode; a held restart cancelled is never delivered; a node of a pool without a
// window gets its restart at once.
func TestWindowHoldsDisruptiveCommands(t *testing.T) {
	wf := startWindowFleet(t)
	window := wf.scheduleNightly(t)
	opens := wf.day.Add(26 * time.Hour)

	held := wf.send(t, "p1", false)
	heldID := held.GetCommand().GetId()
	wantReason := "held for maintenance window " + window + " of pool P until " + opens.Format("2006-01-02") + " 02:00:00 UTC"
	if held.GetState() != fleetv1.CommandState_COMMAND_STATE_HELD || held.GetDetail() != wantReason ||
		!held.GetHeldUntil().AsTime().Equal(opens) || held.GetHeldWindow() != window {
		t.Fatalf("restart at 10:00: %v, want held: %q", held, wantReason)
	}
	other := wf.send(t, "q1", false)
	if other.GetState() == fleetv1.CommandState_COMMAND_STATE_HELD {
		t.Fatalf("restart on pool Q, which has no window, was held: %v", other)
	}
	wf.waitCommand(t, other.GetCommand().GetId(), succeeded)
	if got := wf.restarts["q1"].ran(); !slices.Equal(got, []string{other.GetCommand().GetId()}) {
		t.Fatalf("q1 ran restarts %v", got)
	}

	now := wf.send(t, "p1", true)
	if now.GetState() == fleetv1.CommandState_COMMAND_STATE_HELD || !now.GetWindowOverridden() {
		t.Fatalf("restart with the override: %v", now)
	}
	wf.waitCommand(t, now.GetCommand().GetId(), succeeded)
	// The held restart has the lower seq: had it been delivered, p1 would have run it first.
	if got := wf.restarts["p1"].ran(); !slices.Equal(got, []string{now.GetCommand().GetId()}) {
		t.Fatalf("p1 ran restarts %v, want only the overriding one %s", got, now.GetCommand().GetId())
	}
	if h := wf.command(t, heldID); h.GetState() != fleetv1.CommandState_COMMAND_STATE_HELD || len(h.GetHistory()) != 1 {
		t.Fatalf("the held restart after the override ran: %v", h)
	}
	audit := strings.Join(wf.sendAudit(t, "p1"), "\n")
	if !strings.Contains(audit, "command "+now.GetCommand().GetId()+" overrode maintenance window "+window+" of pool P") ||
		!strings.Contains(audit, "command "+heldID+" "+wantReason) {
		t.Fatalf("the audit of the sends to p1 does not name the window overridden and the hold:\n%s", audit)
	}

	cancelled := wf.send(t, "p2", false)
	if _, err := wf.fleet.CancelCommand(context.Background(), &fleetv1.CancelCommandRequest{Id: cancelled.GetCommand().GetId(), Reason: "not needed"}); err != nil {
		t.Fatalf("cancel a held command: %v", err)
	}
	list, err := wf.fleet.ListCommands(context.Background(), &fleetv1.ListCommandsRequest{States: []fleetv1.CommandState{fleetv1.CommandState_COMMAND_STATE_HELD}})
	if err != nil || len(list.GetCommands()) != 1 || list.GetCommands()[0].GetCommand().GetId() != heldID {
		t.Fatalf("held commands listed: %v %v", list, err)
	}

	wf.clock.set(opens)
	rec := wf.waitCommand(t, heldID, succeeded)
	if got := wf.restarts["p1"].ran(); !slices.Equal(got, []string{now.GetCommand().GetId(), heldID}) {
		t.Fatalf("p1 ran restarts %v after the window opened", got)
	}
	if rec.GetHistory()[1].GetState() != fleetv1.CommandState_COMMAND_STATE_PENDING || rec.GetHistory()[1].GetDetail() != "released: maintenance window "+window+" opened" {
		t.Fatalf("history of the released restart: %v", rec.GetHistory())
	}
	if c := wf.command(t, cancelled.GetCommand().GetId()); c.GetState() != fleetv1.CommandState_COMMAND_STATE_CANCELLED || len(wf.restarts["p2"].ran()) != 0 {
		t.Fatalf("the cancelled held restart: %v; p2 ran %v", c.GetState(), wf.restarts["p2"].ran())
	}
}

// TestWindowHoldsHealing: a healing rule's restart on a node of a pool with a window is held
// outside the window unless the rule is urgent, whose restart runs at once.
func TestWindowHoldsHealing(t *testing.T) {
	wf := startWindowFleet(t)
	window := wf.scheduleNightly(t)
	ctx := context.Background()
	rule := func(name, node string, urgent bool) *fleetv1.AlertRule {
		return &fleetv1.AlertRule{Name: name, Scope: fleetv1.RuleScope_RULE_SCOPE_NODE, Condition: `node.id == "` + node + `"`,
			Severity: fleetv1.AlertSeverity_ALERT_SEVERITY_WARNING, Action: &fleetv1.HealingAction{Kind: fleetv1.CommandKind_COMMAND_KIND_RESTART}, Urgent: urgent}
	}
	for _, r := range []*fleetv1.AlertRule{rule("HealP1", "p1", false), rule("HealP2", "p2", true)} {
		if _, err := wf.alerts.SetRule(ctx, &fleetv1.SetRuleRequest{Rule: r}); err != nil {
			t.Fatal(err)
		}
	}
	healing := func(node string) *fleetv1.CommandRecord {
		var rec *fleetv1.CommandRecord
		fleettest.Eventually(t, 10*time.Second, "a healing restart on "+node, func() bool {
			resp, err := wf.fleet.ListCommands(ctx, &fleetv1.ListCommandsRequest{NodeId: node})
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range resp.GetCommands() {
				if strings.HasPrefix(c.GetCommand().GetRequestedBy(), "rule:") {
					rec = c
					return true
				}
			}
			return false
		})
		return rec
	}
	urgent := healing("p2")
	if urgent.GetCommand().GetRequestedBy() != "rule:HealP2" || urgent.GetState() == fleetv1.CommandState_COMMAND_STATE_HELD || !urgent.GetWindowOverridden() {
		t.Fatalf("the urgent rule's restart: %v", urgent)
	}
	wf.waitCommand(t, urgent.GetCommand().GetId(), succeeded)
	if got := wf.restarts["p2"].ran(); !slices.Equal(got, []string{urgent.GetCommand().GetId()}) {
		t.Fatalf("p2 ran restarts %v", got)
	}
	held := healing("p1")
	if held.GetCommand().GetRequestedBy() != "rule:HealP1" || held.GetState() != fleetv1.CommandState_COMMAND_STATE_HELD || held.GetHeldWindow() != window {
		t.Fatalf("the rule's restart outside the window: %v", held)
	}
	if got := wf.restarts["p1"].ran(); len(got) != 0 {
		t.Fatalf("p1 ran restarts %v while the rule's restart is held", got)
	}
	// The held attempt is pending: the rule issues no other while it waits.
	resp, err := wf.fleet.ListCommands(ctx, &fleetv1.ListCommandsRequest{NodeId: "p1"})
	if err != nil || len(resp.GetCommands()) != 1 {
		t.Fatalf("commands for p1: %v %v", resp, err)
	}
	wf.clock.set(wf.day.Add(26 * time.Hour))
	wf.waitCommand(t, held.GetCommand().GetId(), succeeded)
	// Inside the window the rule's next attempts (retry 5m, the clock jumped 16h) run at once.
	if got := wf.restarts["p1"].ran(); len(got) == 0 || got[0] != held.GetCommand().GetId() {
		t.Fatalf("p1 ran restarts %v once the window opened, want the held one first", got)
	}
}
