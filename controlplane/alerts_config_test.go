package controlplane_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dspyfleet/dspyfleet/controlplane"
	"github.com/dspyfleet/dspyfleet/controlplane/alerts"
)

func TestAlertsConfigFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cp.yaml")
	yaml := `alerts:
  window: 2m
  alertmanager_resend: 30s
  healing_max_per_hour: 5
  healing_pool_min_healthy: {gpu: 2}
  channels:
    - {name: slack, kind: webhook, url: "https://hooks.example/x"}
    - {name: am, kind: alertmanager, url: "http://127.0.0.1:9093"}
  default_notify: [am]
`
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := controlplane.DefaultConfig()
	if err := controlplane.LoadFile(path, &cfg); err != nil {
		t.Fatal(err)
	}
	a := cfg.Alerts
	if a.Window != 2*time.Minute || a.AlertmanagerResend != 30*time.Second || a.MaxHealingPerHour != 5 || a.PoolMinHealthy["gpu"] != 2 || len(a.Channels) != 2 || a.Channels[1].Kind != "alertmanager" || !slices.Equal(a.DefaultNotify, []string{"am"}) {
		t.Fatalf("alerts config %+v", a)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}

	for _, bad := range []struct {
		ch   alerts.Channel
		want string
	}{
		{alerts.Channel{Name: "log", Kind: "webhook", URL: "http://x"}, `name "log"`},
		{alerts.Channel{Name: "default", Kind: "webhook", URL: "http://x"}, `name "default"`},
		{alerts.Channel{Name: "x", Kind: "email", URL: "http://x"}, `kind "email"`},
		{alerts.Channel{Name: "x", Kind: "webhook", URL: "ftp://x"}, `url "ftp://x"`},
	} {
		cfg := controlplane.DefaultConfig()
		cfg.Alerts.Channels = []alerts.Channel{bad.ch}
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("Validate(%+v) = %v, want %q", bad.ch, err, bad.want)
		}
	}
	unknown := controlplane.DefaultConfig()
	unknown.Alerts.DefaultNotify = []string{"pager"}
	if err := unknown.Validate(); err == nil || !strings.Contains(err.Error(), `--alerts-default-notify: "pager" is not log or a configured channel`) {
		t.Errorf("an unknown default channel: Validate = %v", err)
	}
	neg := controlplane.DefaultConfig()
	neg.Alerts.AlertmanagerResend = -time.Second
	if err := neg.Validate(); err == nil || !strings.Contains(err.Error(), "--alertmanager-resend") {
		t.Errorf("negative resend: Validate = %v, want it named", err)
	}
	if err := os.WriteFile(path, []byte("alerts:\n  windw: 1m\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := controlplane.LoadFile(path, &cfg); err == nil || !strings.Contains(err.Error(), "windw") {
		t.Fatalf("unknown key accepted: %v", err)
	}
}
