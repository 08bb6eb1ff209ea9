package controlplane_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dspyfleet/dspyfleet/controlplane/alerts"
	"github.com/dspyfleet/dspyfleet/internal/fleettest"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// TestShippedRulesNotifyTheConfiguredChannel: given only --alertmanager-url, the shipped rules
// notified the log alone, and startup said nothing. They notify "default", which stands for the
// configured channels: a node going down reaches the Alertmanager, and startup logs which rules
// notify where. With --alerts-default-notify log, startup warns that the channel is silent.
func TestShippedRulesNotifyTheConfiguredChannel(t *testing.T) {
	am := &recorder{}
	amSrv := httptest.NewServer(am.handler(http.StatusOK))
	t.Cleanup(amSrv.Close)
	logs := &fleettest.Buffer{}
	cfg := fleettest.FastConfig(t)
	cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	cfg.Alerts.Channels = []alerts.Channel{{Name: "alertmanager", Kind: "alertmanager", URL: amSrv.URL}}
	cp := fleettest.StartControlPlane(t, cfg)
	if !strings.Contains(logs.String(), `msg="alert rules notify"`) || !strings.Contains(logs.String(), "alertmanager=BudgetForecastOver,BudgetHigh,DiskCleanup,DiskFull,ErrorRateHigh,ErrorRateRestart,LatencyAboveTarget,MemoryHigh,NodeDown") {
		t.Fatalf("startup does not say which rules notify the Alertmanager:\n%s", logs)
	}

	ctx, cancel := context.WithCancel(context.Background())
	s, err := fleetv1.NewAgentServiceClient(fleettest.Dial(t, cp.GRPCAddr())).Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	send(t, s, hello("gone-1", "i1"))
	if m, err := s.Recv(); err != nil || m.GetWelcome() == nil {
		t.Fatalf("want Welcome, got %v, %v", m, err)
	}
	cancel() // the agent dies: disconnected, then down once its TTL passes
	fleettest.Eventually(t, 10*time.Second, "NodeDown at the Alertmanager", func() bool {
		bodies, _ := am.all()
		for _, b := range bodies {
			var batch []struct {
				Labels map[string]string `json:"labels"`
			}
			if json.Unmarshal([]byte(b), &batch) == nil && slices.ContainsFunc(batch, func(a struct {
				Labels map[string]string `json:"labels"`
			}) bool {
				return a.Labels["alertname"] == "NodeDown" && a.Labels["node"] == "gone-1"
			}) {
				return true
			}
		}
		return false
	})
	cp.Stop(t)

	logs = &fleettest.Buffer{}
	cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	cfg.Alerts.DefaultNotify = []string{"log"}
	fleettest.StartControlPlane(t, cfg)
	if !strings.Contains(logs.String(), "alert channel is configured but no rule notifies it") || !strings.Contains(logs.String(), "channel=alertmanager") {
		t.Fatalf("no warning for the silent channel:\n%s", logs)
	}
}
