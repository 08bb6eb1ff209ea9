package controlplane_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dspyfleet/dspyfleet/controlplane/alerts"
	"github.com/dspyfleet/dspyfleet/controlplane/store"
	"github.com/dspyfleet/dspyfleet/internal/fleettest"
	"github.com/dspyfleet/dspyfleet/pkg/rules"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

func alertClient(t *testing.T, cp *fleettest.ControlPlane) fleetv1.AlertServiceClient {
	return fleetv1.NewAlertServiceClient(fleettest.Dial(t, cp.GRPCAddr()))
}

// emptyFleetRule fires on a control plane without agents.
func emptyFleetRule(name string, notify ...string) *fleetv1.AlertRule {
	return &fleetv1.AlertRule{
		Name: name, Scope: fleetv1.RuleScope_RULE_SCOPE_FLEET, Severity: fleetv1.AlertSeverity_ALERT_SEVERITY_WARNING,
		Condition: "fleet.nodes == 0", Notify: notify, Labels: map[string]string{"team": "serving"},
		Annotations: map[string]string{"summary": "the fleet has {{.Fleet.Nodes}} nodes"},
	}
}

func firing(t *testing.T, c fleetv1.AlertServiceClient, rule string) *fleetv1.Alert {
	t.Helper()
	var found *fleetv1.Alert
	fleettest.Eventually(t, 5*time.Second, rule+" firing", func() bool {
		resp, err := c.ListAlerts(context.Background(), &fleetv1.ListAlertsRequest{States: []fleetv1.AlertState{fleetv1.AlertState_ALERT_STATE_FIRING}})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range resp.GetAlerts() {
			if a.GetRule() == rule {
				found = a
				return true
			}
		}
		return false
	})
	return found
}

func TestAlertRulesValidatedAndKeptAcrossRestarts(t *testing.T) {
	cfg := fleettest.FastConfig(t)
	cp := fleettest.StartControlPlane(t, cfg)
	c := alertClient(t, cp)
	ctx := context.Background()

	list, err := c.ListRules(ctx, &fleetv1.ListRulesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range list.GetRules() {
		names = append(names, r.GetName())
	}
	for _, want := range []string{"NodeDown", "DiskFull", "DiskCleanup", "ErrorRateHigh", "ErrorRateRestart", "LatencyAboveTarget", "MemoryHigh"} {
		if !slices.Contains(names, want) {
			t.Errorf("default rule %s missing from %v", want, names)
		}
	}

	bad := []struct {
		rule *fleetv1.AlertRule
		want string
	}{
		{&fleetv1.AlertRule{Name: "X", Scope: fleetv1.RuleScope_RULE_SCOPE_NODE, Severity: fleetv1.AlertSeverity_ALERT_SEVERITY_INFO, Condition: "node.host.cpu"}, "not bool"},
		{&fleetv1.AlertRule{Name: "X", Scope: fleetv1.RuleScope_RULE_SCOPE_NODE, Severity: fleetv1.AlertSeverity_ALERT_SEVERITY_INFO, Condition: "node.host.cpus > 1"}, "<input>:1:10: undefined field 'cpus'"},
		{&fleetv1.AlertRule{Name: "X", Scope: fleetv1.RuleScope_RULE_SCOPE_NODE, Severity: fleetv1.AlertSeverity_ALERT_SEVERITY_INFO, Condition: "true", For: durationpb.New(-time.Second)}, "for -1s"},
		{&fleetv1.AlertRule{Name: "X", Severity: fleetv1.AlertSeverity_ALERT_SEVERITY_INFO, Condition: "true"}, `scope "unspecified"`},
		{emptyFleetRule("X", "pager"), `unknown channel "pager"`},
		{&fleetv1.AlertRule{Name: "X", Scope: fleetv1.RuleScope_RULE_SCOPE_NODE, Severity: fleetv1.AlertSeverity_ALERT_SEVERITY_INFO, Condition: "true",
			Action: &fleetv1.HealingAction{Kind: fleetv1.CommandKind_COMMAND_KIND_DEPLOY}}, `action.kind "deploy"`},
	}
	for _, b := range bad {
		_, err := c.SetRule(ctx, &fleetv1.SetRuleRequest{Rule: b.rule})
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), b.want) {
			t.Errorf("SetRule(%s) = %v, want InvalidArgument containing %q", b.rule.GetCondition(), err, b.want)
		}
	}
	if _, err := c.SetRule(ctx, &fleetv1.SetRuleRequest{}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("SetRule without a rule = %v", err)
	}
	_, err = c.CreateSilence(ctx, &fleetv1.CreateSilenceRequest{Silence: &fleetv1.Silence{
		Matchers: []*fleetv1.SilenceMatcher{{Name: "alertname", Value: "Empty"}}, Author: "ops",
		Start: timestamppb.New(time.Now()), End: timestamppb.New(time.Now().Add(-time.Hour)),
	}})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "is not after start") {
		t.Errorf("CreateSilence with end before start = %v", err)
	}

	if _, err := c.SetRule(ctx, &fleetv1.SetRuleRequest{Rule: emptyFleetRule("Empty", "log")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteRule(ctx, &fleetv1.DeleteRuleRequest{Name: "MemoryHigh"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteRule(ctx, &fleetv1.DeleteRuleRequest{Name: "MemoryHigh"}); status.Code(err) != codes.NotFound {
		t.Fatalf("deleting a missing rule = %v", err)
	}
	test, err := c.TestRule(ctx, &fleetv1.TestRuleRequest{Name: "Empty"})
	if err != nil || len(test.GetResults()) != 1 || !test.GetResults()[0].GetHolds() {
		t.Fatalf("TestRule = %v, %v", test, err)
	}
	before := firing(t, c, "Empty")
	if before.GetAnnotations()["summary"] != "the fleet has 0 nodes" || before.GetLabels()["team"] != "serving" {
		t.Fatalf("alert %v", before)
	}
	cp.Stop(t)
	db, err := store.Open(cfg.DataDir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var fleetBaselines map[string]rules.Baseline
	err = db.View(func(tx *store.Tx) error {
		return json.Unmarshal(tx.Bucket(store.Baselines).Get([]byte("fleet")), &fleetBaselines)
	})
	if cerr := db.Close(); err != nil || cerr != nil || fleetBaselines["rps"].Samples == 0 {
		t.Fatalf("stored fleet baselines %v: %v, %v", fleetBaselines, err, cerr)
	}

	cp = fleettest.StartControlPlane(t, cfg)
	c = alertClient(t, cp)
	list, err = c.ListRules(ctx, &fleetv1.ListRulesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	names = names[:0]
	for _, r := range list.GetRules() {
		names = append(names, r.GetName())
	}
	if !slices.Contains(names, "Empty") || slices.Contains(names, "MemoryHigh") {
		t.Fatalf("rules after restart: %v", names)
	}
	after := firing(t, c, "Empty")
	if !after.GetFiredAt().AsTime().Equal(before.GetFiredAt().AsTime()) {
		t.Fatalf("fired at %v before the restart and %v after", before.GetFiredAt().AsTime(), after.GetFiredAt().AsTime())
	}

	// A silence that ended more than a week ago is dropped by the next evaluation.
	old, err := c.CreateSilence(ctx, &fleetv1.CreateSilenceRequest{Silence: &fleetv1.Silence{
		Matchers: []*fleetv1.SilenceMatcher{{Name: "alertname", Value: "Empty"}}, Author: "ops",
		Start: timestamppb.New(time.Now().Add(-9 * 24 * time.Hour)), End: timestamppb.New(time.Now().Add(-8 * 24 * time.Hour)),
	}})
	if err != nil {
		t.Fatal(err)
	}
	fleettest.Eventually(t, 5*time.Second, "the old silence pruned", func() bool {
		resp, err := c.ListSilences(ctx, &fleetv1.ListSilencesRequest{IncludeExpired: true})
		if err != nil {
			t.Fatal(err)
		}
		return len(resp.GetSilences()) == 0
	})
	if _, err := c.DeleteSilence(ctx, &fleetv1.DeleteSilenceRequest{Id: old.GetSilence().GetId()}); status.Code(err) != codes.NotFound {
		t.Fatalf("deleting a pruned silence = %v", err)
	}
}

// recorder is a loopback HTTP endpoint that keeps the bodies it receives.
type recorder struct {
	mu     sync.Mutex
	bodies []string
	paths  []string
}

func (r *recorder) handler(code int) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.bodies = append(r.bodies, string(b))
		r.paths = append(r.paths, req.URL.Path)
		r.mu.Unlock()
		w.WriteHeader(code)
	}
}

func (r *recorder) all() ([]string, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.bodies), slices.Clone(r.paths)
}

func TestAlertDeliveries(t *testing.T) {
	hook, am, broken := &recorder{}, &recorder{}, &recorder{}
	// Registered before the control plane starts, the servers close after it stopped.
	hookSrv := httptest.NewServer(hook.handler(http.StatusOK))
	t.Cleanup(hookSrv.Close)
	amSrv := httptest.NewServer(am.handler(http.StatusOK))
	t.Cleanup(amSrv.Close)
	brokenSrv := httptest.NewServer(broken.handler(http.StatusInternalServerError))
	t.Cleanup(brokenSrv.Close)
	hangSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // the server notices the client leaving only once the body is read
		<-r.Context().Done()
	}))
	t.Cleanup(hangSrv.Close)

	cfg := fleettest.FastConfig(t)
	cfg.Alerts.Channels = []alerts.Channel{
		{Name: "hook", Kind: "webhook", URL: hookSrv.URL + "/slack"},
		{Name: "am", Kind: "alertmanager", URL: amSrv.URL},
		{Name: "broken", Kind: "webhook", URL: brokenSrv.URL},
		{Name: "hang", Kind: "webhook", URL: hangSrv.URL},
	}
	cfg.Alerts.DeliveryTimeout = 200 * time.Millisecond
	cfg.Alerts.DeliveryAttempts = 2
	cfg.Alerts.DeliveryBackoff = 10 * time.Millisecond
	cfg.Alerts.GeneratorURL = "http://fleet.example/alerts"
	cp := fleettest.StartControlPlane(t, cfg)
	c := alertClient(t, cp)
	ctx := context.Background()

	if _, err := c.SetRule(ctx, &fleetv1.SetRuleRequest{Rule: emptyFleetRule("Empty", "hang", "broken", "hook", "am")}); err != nil {
		t.Fatal(err)
	}
	firing(t, c, "Empty")
	fleettest.Eventually(t, 5*time.Second, "webhook and alertmanager deliveries", func() bool {
		h, _ := hook.all()
		a, _ := am.all()
		return len(h) == 1 && len(a) == 1
	})
	h, hp := hook.all()
	var slack map[string]string
	if err := json.Unmarshal([]byte(h[0]), &slack); err != nil || hp[0] != "/slack" ||
		slack["text"] != "[FIRING] Empty on fleet (warning): the fleet has 0 nodes" {
		t.Fatalf("webhook got %q at %s (%v)", h[0], hp[0], err)
	}
	checkAM(t, am, false)

	// A silence suppresses the notifications of a new matching rule.
	_, err := c.CreateSilence(ctx, &fleetv1.CreateSilenceRequest{Silence: &fleetv1.Silence{
		Matchers: []*fleetv1.SilenceMatcher{{Name: "alertname", Value: "Quiet.*", Regex: true}}, Author: "ops", Comment: "maintenance",
		Start: timestamppb.New(time.Now().Add(-time.Minute)), End: timestamppb.New(time.Now().Add(time.Hour)),
	}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.SetRule(ctx, &fleetv1.SetRuleRequest{Rule: emptyFleetRule("Quiet", "hook")}); err != nil {
		t.Fatal(err)
	}
	firing(t, c, "Quiet")

	// Deleting the rule resolves its alert: a resolved notification with endsAt.
	if _, err := c.DeleteRule(ctx, &fleetv1.DeleteRuleRequest{Name: "Empty"}); err != nil {
		t.Fatal(err)
	}
	fleettest.Eventually(t, 5*time.Second, "resolved deliveries", func() bool {
		h, _ := hook.all()
		a, _ := am.all()
		return len(h) == 2 && len(a) == 2
	})
	h, _ = hook.all()
	if !strings.HasPrefix(h[1], `{"text":"[RESOLVED] Empty on fleet`) {
		t.Fatalf("resolved webhook body %q", h[1])
	}
	checkAM(t, am, true)

	var failed []*fleetv1.Delivery
	fleettest.Eventually(t, 5*time.Second, "failed deliveries recorded", func() bool {
		resp, err := c.ListDeliveries(ctx, &fleetv1.ListDeliveriesRequest{FailedOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		failed = resp.GetDeliveries()
		return len(failed) == 4
	})
	for _, d := range failed {
		if d.GetAttempts() != 2 || d.GetDelivered() || (d.GetChannel() == "broken" && !strings.Contains(d.GetError(), "500 Internal Server Error")) ||
			(d.GetChannel() == "hang" && !strings.Contains(d.GetError(), "deadline exceeded")) {
			t.Errorf("delivery %v", d)
		}
	}
	if b, _ := broken.all(); len(b) != 4 {
		t.Errorf("the failing webhook was called %d times, want 2 attempts × 2 notifications", len(b))
	}
	for _, b := range h {
		if strings.Contains(b, "Quiet") {
			t.Fatalf("a silenced alert was delivered: %s", b)
		}
	}
	evs, err := c.ListEvents(ctx, &fleetv1.AlertServiceListEventsRequest{})
	if err != nil || len(evs.GetEvents()) < 3 {
		t.Fatalf("events %v, %v", evs, err)
	}

	resp, err := http.Get("http://" + cp.HTTPAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	metrics, _ := io.ReadAll(resp.Body)
	for _, want := range []string{
		`dspyfleet_alerts{severity="warning",state="firing"} 1`,
		`dspyfleet_alert_notifications_total{channel="broken",result="failed"} 2`,
		`dspyfleet_alert_notifications_total{channel="hook",result="silenced"} 1`,
		`dspyfleet_alert_notifications_total{channel="hook",result="delivered"} 2`,
		`grpc_server_handled_total{grpc_code="OK",grpc_method="SetRule",grpc_service="dspyfleet.v1.AlertService",grpc_type="unary"} 2`,
		`dspyfleet_reconcile_step_seconds_count{step="alerts"}`,
		`grpc_server_handling_seconds_bucket{grpc_method="ListRules"`,
	} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func checkAM(t *testing.T, am *recorder, resolved bool) {
	t.Helper()
	bodies, paths := am.all()
	body, path := bodies[len(bodies)-1], paths[len(paths)-1]
	var alerts []struct {
		Labels       map[string]string `json:"labels"`
		Annotations  map[string]string `json:"annotations"`
		StartsAt     time.Time         `json:"startsAt"`
		EndsAt       time.Time         `json:"endsAt"`
		GeneratorURL string            `json:"generatorURL"`
	}
	if err := json.Unmarshal([]byte(body), &alerts); err != nil || path != "/api/v2/alerts" || len(alerts) != 1 {
		t.Fatalf("alertmanager got %q at %s: %v", body, path, err)
	}
	a := alerts[0]
	if a.Labels["alertname"] != "Empty" || a.Labels["severity"] != "warning" || a.Labels["team"] != "serving" ||
		a.Annotations["summary"] != "the fleet has 0 nodes" || a.GeneratorURL != "http://fleet.example/alerts" || a.StartsAt.IsZero() {
		t.Fatalf("alertmanager alert %+v", a)
	}
	if ended := !a.EndsAt.After(time.Now()); ended != resolved || a.EndsAt.Before(a.StartsAt) {
		t.Fatalf("endsAt %v (startsAt %v), resolved %v", a.EndsAt, a.StartsAt, resolved)
	}
}
