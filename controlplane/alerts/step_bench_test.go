package alerts

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dspyfleet/dspyfleet/controlplane/commands"
	"github.com/dspyfleet/dspyfleet/internal/benchfleet"
)

// BenchmarkAlertsStep measures the alerts step (Alerter.Reconcile: snapshot, every default rule,
// baselines, healing, alert states) at 10,000 nodes in 4 pools, each node with a full last report
// and 10 minutes of one-minute request rollups, while reports arrive at 10,000 a second through
// the report path (Registry.ApplyReport, stats.Requests.Add): the time per step and how long
// reports waited while it ran, and how long the API's reads of alerts and rules took meanwhile
// (max-alerts-api-ms, p99-alerts-api-ms). See benchfleet.Fleet.RunSteps.
func BenchmarkAlertsStep(b *testing.B) {
	f := benchfleet.New(b, benchfleet.Options{})
	cfg := DefaultConfig()
	m := NewMetrics(prometheus.NewRegistry())
	cmds := commands.NewQueue(f.Now, f.Store, time.Hour, 16)
	a, err := New(cfg, benchfleet.Discard, f.Store, f.Reg, f.Stats, cmds, NewNotifier(cfg, benchfleet.Discard, f.Store, m, f.Now), m)
	if err != nil {
		b.Fatal(err)
	}
	// The first step creates every alert state and writes the first baselines; later steps are
	// the steady state.
	if err := a.Reconcile(b.Context(), f.Now()); err != nil {
		b.Fatal(err)
	}
	f.RunSteps(b, benchfleet.Interval, a.Reconcile, benchfleet.Reader{Name: "alerts-api", Call: func() error {
		_ = a.ListAlerts(nil)
		_ = a.Rules()
		return nil
	}})
}
