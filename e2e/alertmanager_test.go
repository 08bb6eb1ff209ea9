package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/dspyfleet/dspyfleet/controlplane/alerts"
	"github.com/dspyfleet/dspyfleet/internal/fleettest"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// alertmanagerBinary is where Debian's prometheus-alertmanager package installs Alertmanager.
const alertmanagerBinary = "/usr/bin/prometheus-alertmanager"

// amActive is an alert as Alertmanager's API v2 lists it (GET /api/v2/alerts).
type amActive struct {
	Labels       map[string]string `json:"labels"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Status       struct {
		State string `json:"state"`
	} `json:"status"`
}

// startAlertmanager runs a real Alertmanager on loopback, clustering off, with a temporary
// configuration and storage, and returns its base URL once it is ready.
func startAlertmanager(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath(alertmanagerBinary)
	if err != nil {
		t.Skipf("Alertmanager is not installed (%v): apt-get install prometheus-alertmanager (.ci/run installs it)", err)
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(conf, []byte("route: {receiver: none, group_wait: 1h}\nreceivers: [{name: none}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(fleettest.FreePortRange(t, 1))
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "--config.file="+conf, "--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--cluster.listen-address=", "--log.level=warn")
	cmd.Stdout, cmd.Stderr = t.Output(), t.Output()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
	})
	base := "http://" + addr
	fleettest.Eventually(t, 20*time.Second, "Alertmanager ready", func() bool {
		resp, err := http.Get(base + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return base
}

// amAlerts lists the alerts Alertmanager holds named alertname: active, silenced or
// inhibited ones; a resolved alert is not listed.
func amAlerts(t *testing.T, base, alertname string) []amActive {
	t.Helper()
	resp, err := http.Get(base + "/api/v2/alerts?filter=" + fmt.Sprintf("alertname=%q", alertname))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out []amActive
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&out) != nil {
		t.Fatalf("GET /api/v2/alerts: %s", resp.Status)
	}
	return out
}

// TestAlertmanagerKeepsFiringAlertsAndExpiresADeadControlPlanes: against a real Alertmanager,
// a firing alert whose rule repeats once a day stays active past three global repeat
// intervals (where the old endsAt ended it) because it is resent every resend interval, each
// time ending four resend intervals on; deleting its rule resolves it at once; and a control
// plane that stops leaves its alerts to expire within four resend intervals.
func TestAlertmanagerKeepsFiringAlertsAndExpiresADeadControlPlanes(t *testing.T) {
	base := startAlertmanager(t)
	const resend = time.Second
	cfg := fleettest.FastConfig(t)
	cfg.Alerts.Channels = []alerts.Channel{{Name: "am", Kind: "alertmanager", URL: base}}
	cfg.Alerts.DefaultRepeat = time.Second
	cfg.Alerts.AlertmanagerResend = resend
	cp := fleettest.StartControlPlane(t, cfg)
	c := fleetv1.NewAlertServiceClient(fleettest.Dial(t, cp.GRPCAddr()))
	deleteAllRules(t, c)
	ctx := context.Background()
	rule := &fleetv1.AlertRule{
		Name: "FleetEmpty", Scope: fleetv1.RuleScope_RULE_SCOPE_FLEET, Severity: fleetv1.AlertSeverity_ALERT_SEVERITY_WARNING,
		Condition: "fleet.nodes == 0", Notify: []string{"am"}, RepeatInterval: durationpb.New(24 * time.Hour),
	}
	if _, err := c.SetRule(ctx, &fleetv1.SetRuleRequest{Rule: rule}); err != nil {
		t.Fatal(err)
	}
	active := func(at time.Time) (amActive, bool) {
		got := amAlerts(t, base, "FleetEmpty")
		if len(got) != 1 || got[0].Status.State != "active" {
			return amActive{}, false
		}
		a := got[0]
		if a.EndsAt.After(at.Add(4*resend+500*time.Millisecond)) || a.Labels["severity"] != "warning" {
			t.Fatalf("alert %+v at %v: endsAt more than 4 resend intervals (%s) ahead", a, at, 4*resend)
		}
		return a, true
	}
	fleettest.Eventually(t, 10*time.Second, "FleetEmpty active at the Alertmanager", func() bool {
		_, ok := active(time.Now())
		return ok
	})
	first, _ := active(time.Now())
	if want := "http://" + cp.HTTPAddr() + "/ui/#/alerts"; first.GeneratorURL != want {
		t.Errorf("generatorURL %q, want %q", first.GeneratorURL, want)
	}

	// It stays active well past 3 × the 1s global repeat and past the first endsAt, its
	// endsAt moving on with every resend.
	hold := time.Now().Add(4*resend + 2*time.Second)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last amActive
	for now := time.Now(); now.Before(hold); now = <-tick.C {
		a, ok := active(now)
		if !ok {
			t.Fatalf("FleetEmpty no longer active at the Alertmanager %s after it fired, while it fires", time.Since(first.StartsAt))
		}
		last = a
	}
	if !last.EndsAt.After(first.EndsAt.Add(2*resend)) || !last.StartsAt.Equal(first.StartsAt) {
		t.Fatalf("endsAt went from %v to %v (startsAt %v, %v): not moved on by the resends", first.EndsAt, last.EndsAt, first.StartsAt, last.StartsAt)
	}

	// Deleting the rule resolves the alert at Alertmanager before its endsAt.
	if _, err := c.DeleteRule(ctx, &fleetv1.DeleteRuleRequest{Name: "FleetEmpty"}); err != nil {
		t.Fatal(err)
	}
	lastEnd := last.EndsAt
	fleettest.Eventually(t, 10*time.Second, "FleetEmpty resolved at the Alertmanager", func() bool {
		if a, ok := active(time.Now()); ok {
			lastEnd = a.EndsAt // from the same read: a second one may find it resolved already
			return false
		}
		return true
	})
	if resolvedBy := time.Now(); !resolvedBy.Before(lastEnd) {
		t.Fatalf("resolved only at %v, not before the last endsAt %v: the resolution was not sent", resolvedBy, lastEnd)
	}

	// Firing again, then the control plane stops: the alert expires within 4 resend intervals.
	rule.Name = "FleetEmptyAgain"
	if _, err := c.SetRule(ctx, &fleetv1.SetRuleRequest{Rule: rule}); err != nil {
		t.Fatal(err)
	}
	fleettest.Eventually(t, 10*time.Second, "FleetEmptyAgain active at the Alertmanager", func() bool {
		got := amAlerts(t, base, "FleetEmptyAgain")
		return len(got) == 1 && got[0].Status.State == "active"
	})
	cp.Stop(t)
	stopped := time.Now()
	fleettest.Eventually(t, 4*resend+3*time.Second, "FleetEmptyAgain expired after the control plane stopped", func() bool {
		return len(amAlerts(t, base, "FleetEmptyAgain")) == 0
	})
	if took := time.Since(stopped); took > 4*resend+time.Second {
		t.Fatalf("FleetEmptyAgain expired %s after the control plane stopped, want within 4 resend intervals (%s)", took, 4*resend)
	}
}
