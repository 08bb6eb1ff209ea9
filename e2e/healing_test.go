package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dspyfleet/dspyfleet/agent"
	"github.com/dspyfleet/dspyfleet/agent/proxy"
	"github.com/dspyfleet/dspyfleet/controlplane/alerts"
	"github.com/dspyfleet/dspyfleet/internal/fleettest"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// healingFleet is a control plane and one agent supervising a real child HTTP server (healthsrv)
// behind the agent's proxy, with traffic flowing until the test ends.
type healingFleet struct {
	cp       *fleettest.ControlPlane
	fleet    fleetv1.FleetServiceClient
	alerts   fleetv1.AlertServiceClient
	failFile string
}

// startHealingFleet starts the fleet with the alerts configuration adjusted by mutate; the
// child answers /predict with 500 while failFile exists (it does from the start).
func startHealingFleet(t *testing.T, mutate func(*alerts.Config)) *healingFleet {
	t.Helper()
	dir := t.TempDir()
	srv := filepath.Join(dir, "healthsrv")
	if out, err := exec.Command("go", "build", "-o", srv, "github.com/dspyfleet/dspyfleet/agent/service/testdata/healthsrv").CombinedOutput(); err != nil {
		t.Fatalf("build healthsrv: %v\n%s", err, out)
	}
	failFile := filepath.Join(dir, "failing")
	if err := os.WriteFile(failFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	port := fleettest.FreePortRange(t, 1)

	cfg := fleettest.FastConfig(t)
	mutate(&cfg.Alerts)
	cp := fleettest.StartControlPlane(t, cfg)
	h := &healingFleet{cp: cp, fleet: cp.Fleet(t), alerts: fleetv1.NewAlertServiceClient(fleettest.Dial(t, cp.GRPCAddr())), failFile: failFile}
	deleteAllRules(t, h.alerts)

	a := startAgentWith(t, cp.GRPCAddr(), "worker", func(c *agent.Config) {
		c.ActionsConfig = agent.ActionsConfig{Service: &agent.ServiceConfig{
			Manager: "process", Command: []string{srv, "-fail-file", failFile}, BasePort: port, StopGrace: 2 * time.Second,
			Health: agent.HealthConfig{URL: "http://127.0.0.1:{port}/healthz", Timeout: 10 * time.Second},
		}}
		c.Proxy = proxy.Config{Listen: "127.0.0.1:0", Upstream: "127.0.0.1:" + strconv.Itoa(port), RetryAfter: time.Second}
	})
	waitState(t, h.fleet, "worker", ready, 10*time.Second)

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		client := &http.Client{Timeout: time.Second}
		defer client.CloseIdleConnections()
		for ctx.Err() == nil {
			if resp, err := client.Get("http://" + a.ProxyAddr() + "/predict"); err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			select {
			case <-ctx.Done():
			case <-time.After(10 * time.Millisecond):
			}
		}
	})
	t.Cleanup(func() { cancel(); wg.Wait() })
	return h
}

// deleteAllRules leaves only the test's rule to run: a default rule (a full disk on the test
// machine) must not spend the node's healing budget or act on its files.
func deleteAllRules(t *testing.T, c fleetv1.AlertServiceClient) {
	t.Helper()
	rules, err := c.ListRules(context.Background(), &fleetv1.ListRulesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rules.GetRules() {
		if _, err := c.DeleteRule(context.Background(), &fleetv1.DeleteRuleRequest{Name: r.GetName()}); err != nil {
			t.Fatal(err)
		}
	}
}

// errorSpikeRule restarts the node when more than half of its requests fail.
func errorSpikeRule(notify ...string) *fleetv1.AlertRule {
	return &fleetv1.AlertRule{
		Name: "ErrorSpike", Scope: fleetv1.RuleScope_RULE_SCOPE_NODE, Severity: fleetv1.AlertSeverity_ALERT_SEVERITY_CRITICAL,
		Condition:   "node.dspy.requests >= 10 && node.dspy.error_rate > 0.5",
		Notify:      notify,
		Action:      &fleetv1.HealingAction{Kind: fleetv1.CommandKind_COMMAND_KIND_RESTART, RetryInterval: durationpb.New(200 * time.Millisecond)},
		Annotations: map[string]string{"summary": `node {{.Node.ID}} fails {{printf "%.0f" (mul100 .Node.DSPy.ErrorRate)}} % of requests`},
	}
}

func (h *healingFleet) restarts(t *testing.T) []*fleetv1.CommandRecord {
	t.Helper()
	resp, err := h.fleet.ListCommands(context.Background(), &fleetv1.ListCommandsRequest{NodeId: "worker", Kinds: []fleetv1.CommandKind{fleetv1.CommandKind_COMMAND_KIND_RESTART}})
	if err != nil {
		t.Fatal(err)
	}
	return resp.GetCommands()
}

func (h *healingFleet) eventContaining(t *testing.T, s string) bool {
	t.Helper()
	return h.eventsContaining(t, s) > 0
}

// eventsContaining counts the alert events whose message contains s.
func (h *healingFleet) eventsContaining(t *testing.T, s string) int {
	t.Helper()
	resp, err := h.alerts.ListEvents(context.Background(), &fleetv1.AlertServiceListEventsRequest{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range resp.GetEvents() {
		if strings.Contains(e.GetMessage(), s) {
			n++
		}
	}
	return n
}

// TestErrorSpikeRestartsWithinTheRateGuard: errors from the real child server fire the rule, the
// agent restarts the child (a new pid each time), and the fourth restart within the hour is
// refused with an event. The alert is silenced: its webhook stays quiet while healing runs.
func TestErrorSpikeRestartsWithinTheRateGuard(t *testing.T) {
	var mu sync.Mutex
	var bodies []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
	}))
	t.Cleanup(hook.Close)
	h := startHealingFleet(t, func(a *alerts.Config) {
		a.Channels = []alerts.Channel{{Name: "hook", Kind: "webhook", URL: hook.URL}}
		a.MaxHealingPerHour = 3
		a.EscalateAfter = -1
	})
	ctx := context.Background()
	_, err := h.alerts.CreateSilence(ctx, &fleetv1.CreateSilenceRequest{Silence: &fleetv1.Silence{
		Matchers: []*fleetv1.SilenceMatcher{{Name: "alertname", Value: "ErrorSpike"}, {Name: "node", Value: "worker"}},
		Start:    timestamppb.New(time.Now().Add(-time.Minute)), End: timestamppb.New(time.Now().Add(time.Hour)), Author: "e2e",
	}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.alerts.SetRule(ctx, &fleetv1.SetRuleRequest{Rule: errorSpikeRule("hook")}); err != nil {
		t.Fatal(err)
	}

	// The guard refuses again at the rule's next retry: an evaluation after the first refusal that
	// issued nothing either. A round queues its commands before it stores its events, so every
	// restart issued until then is listed below.
	refused := "already had 3 healing executions in the last hour"
	fleettest.Eventually(t, 60*time.Second, "the rate guard refusing a fourth restart twice", func() bool {
		if n := len(h.restarts(t)); n > 3 {
			t.Fatalf("%d restarts, want 3", n)
		}
		return h.eventsContaining(t, refused) >= 2
	})
	recs := h.restarts(t)
	if len(recs) != 3 {
		t.Fatalf("%d restarts, want 3", len(recs))
	}
	pids := map[string]bool{}
	for _, r := range recs {
		r = waitCommand(t, h.fleet, r.GetCommand().GetId(), succeeded, 30*time.Second)
		if r.GetCommand().GetRequestedBy() != "rule:ErrorSpike" || !strings.Contains(r.GetCommand().GetReason(), "rule ErrorSpike firing") {
			t.Fatalf("restart %v", r.GetCommand())
		}
		pids[r.GetFields()["new_pids"]] = true
	}
	if len(pids) != 3 {
		t.Fatalf("restarts gave pids %v, want three new ones", pids)
	}
	mu.Lock()
	got := len(bodies)
	mu.Unlock()
	if got != 0 {
		t.Fatalf("the silenced alert reached the webhook %d times", got)
	}

	// Once the child stops failing and the errors age out of the window, the alert resolves;
	// the resolution is not notified either, since the firing never was.
	if err := os.Remove(h.failFile); err != nil {
		t.Fatal(err)
	}
	alerts, err := h.alerts.ListAlerts(ctx, &fleetv1.ListAlertsRequest{States: []fleetv1.AlertState{fleetv1.AlertState_ALERT_STATE_FIRING}})
	if err != nil || len(alerts.GetAlerts()) != 1 || alerts.GetAlerts()[0].GetLastNotified() != nil {
		t.Fatalf("firing alerts %v, %v: want ErrorSpike, never notified", alerts, err)
	}
}

// TestEscalationDrainsAndAlerts: restarts that do not heal the node escalate: the node is
// drained and a critical HealingEscalated alert reaches an Alertmanager-shaped server.
func TestEscalationDrainsAndAlerts(t *testing.T) {
	type amAlert struct {
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
		StartsAt    time.Time         `json:"startsAt"`
		EndsAt      time.Time         `json:"endsAt"`
	}
	var mu sync.Mutex
	var received []amAlert
	am := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var batch []amAlert
		if r.Method != http.MethodPost || r.URL.Path != "/api/v2/alerts" || r.Header.Get("Content-Type") != "application/json" ||
			json.NewDecoder(r.Body).Decode(&batch) != nil {
			http.Error(w, "not an Alertmanager v2 alerts post", http.StatusBadRequest)
			return
		}
		mu.Lock()
		received = append(received, batch...)
		mu.Unlock()
	}))
	t.Cleanup(am.Close)
	h := startHealingFleet(t, func(a *alerts.Config) {
		a.Channels = []alerts.Channel{{Name: "am", Kind: "alertmanager", URL: am.URL}}
		a.MaxHealingPerHour = 10
		a.EscalateAfter = 2
		a.MinHealthy = 0
	})
	if _, err := h.alerts.SetRule(context.Background(), &fleetv1.SetRuleRequest{Rule: errorSpikeRule("am")}); err != nil {
		t.Fatal(err)
	}
	fleettest.Eventually(t, 60*time.Second, "the node drained by the escalation", func() bool {
		n := nodeOf(t, h.fleet, "worker") // a restart's own drain holds the node too: not that one
		return (n.GetState() == draining || n.GetState() == drained) && n.GetRestartHold() == ""
	})
	if n := len(h.restarts(t)); n != 2 {
		t.Fatalf("%d restarts before the escalation, want 2", n)
	}
	fleettest.Eventually(t, 5*time.Second, "the escalation event", func() bool {
		return h.eventContaining(t, "escalated: restart of rule ErrorSpike failed 2 times")
	})
	fleettest.Eventually(t, 10*time.Second, "the critical escalation alert at the Alertmanager", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, a := range received {
			if a.Labels["alertname"] == "HealingEscalated" && a.Labels["severity"] == "critical" && a.Labels["node"] == "worker" &&
				a.Labels["rule"] == "ErrorSpike" && strings.Contains(a.Annotations["summary"], "draining the node") && a.EndsAt.After(a.StartsAt) {
				return true
			}
		}
		return false
	})
}

// TestDiskRuleCleanupFreesTheRoot: a disk rule whose threshold the node's fullest file system
// passes makes the agent clean its configured root: old files go, new ones stay. (The real disk
// of a test machine cannot be filled safely, so the threshold sits just below its usage.)
func TestDiskRuleCleanupFreesTheRoot(t *testing.T) {
	root := t.TempDir()
	old := time.Now().Add(-48 * time.Hour)
	for name, size := range map[string]int{"old-1.log": 4096, "old-2.log": 1024, "new.log": 10} {
		p := filepath.Join(root, name)
		if err := os.WriteFile(p, make([]byte, size), 0o644); err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(name, "old") {
			if err := os.Chtimes(p, old, old); err != nil {
				t.Fatal(err)
			}
		}
	}
	cp := fleettest.StartControlPlane(t, fleettest.FastConfig(t))
	c := cp.Fleet(t)
	alerts := fleetv1.NewAlertServiceClient(fleettest.Dial(t, cp.GRPCAddr()))
	deleteAllRules(t, alerts)
	startAgentWith(t, cp.GRPCAddr(), "worker", func(cfg *agent.Config) {
		cfg.ActionsConfig = agent.ActionsConfig{Cleanup: []agent.CleanupRule{{Root: root, Patterns: []string{"*.log"}, MaxAge: 24 * time.Hour}}}
	})
	waitState(t, c, "worker", ready, 10*time.Second)
	var fullest float64
	fleettest.Eventually(t, 10*time.Second, "a report with disks", func() bool {
		n := fleettest.Node(t, c, "worker")
		for _, d := range n.GetLastReport().GetHost().GetDisks() {
			fullest = max(fullest, d.GetUsedPercent())
		}
		return n.GetLastReport().GetHost() != nil
	})
	ctx := context.Background()
	_, err := alerts.SetRule(ctx, &fleetv1.SetRuleRequest{Rule: &fleetv1.AlertRule{
		Name: "DiskAboveThreshold", Scope: fleetv1.RuleScope_RULE_SCOPE_NODE, Severity: fleetv1.AlertSeverity_ALERT_SEVERITY_WARNING,
		Condition: "node.host.disk_max > params.threshold", Params: map[string]float64{"threshold": fullest - 1},
		Action: &fleetv1.HealingAction{Kind: fleetv1.CommandKind_COMMAND_KIND_CLEANUP},
	}})
	if err != nil {
		t.Fatal(err)
	}
	var rec *fleetv1.CommandRecord
	fleettest.Eventually(t, 30*time.Second, "a cleanup issued by the rule succeeding", func() bool {
		resp, err := c.ListCommands(ctx, &fleetv1.ListCommandsRequest{NodeId: "worker", Kinds: []fleetv1.CommandKind{fleetv1.CommandKind_COMMAND_KIND_CLEANUP}})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range resp.GetCommands() {
			if r.GetState() == succeeded && r.GetCommand().GetRequestedBy() == "rule:DiskAboveThreshold" {
				rec = r
				return true
			}
		}
		return false
	})
	if rec.GetFields()["bytes_freed"] != "5120" || rec.GetFields()["files"] != "2" {
		t.Fatalf("cleanup fields %v", rec.GetFields())
	}
	if _, err := os.Stat(filepath.Join(root, "old-1.log")); !os.IsNotExist(err) {
		t.Fatalf("old file still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "new.log")); err != nil {
		t.Fatalf("new file removed: %v", err)
	}
}
