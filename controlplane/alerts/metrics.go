package alerts

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dspyfleet/dspyfleet/pkg/rules"
)

// Metrics are the Prometheus metrics of rules, notifications and healing. Every label has a
// small fixed set of values (states, severities, action kinds, results, configured channels).
type alertMetrics struct {
	states        *prometheus.GaugeVec
	notifications *prometheus.CounterVec
	healing       *prometheus.CounterVec
	evalErrors    prometheus.Counter
	cutOff        prometheus.Counter
	events        prometheus.Gauge
}

func NewMetrics(pr prometheus.Registerer) *alertMetrics {
	m := &alertMetrics{
		states: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "dspyfleet_alerts",
			Help: "Alerts by state (pending, firing, resolved) and severity.",
		}, []string{"state", "severity"}),
		notifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dspyfleet_alert_notifications_total",
			Help: "Alert notifications by channel and result (delivered, failed, dropped; silenced: held back by a silence, once per repeat interval; resent, resend_failed, resend_dropped: the batches of firing alerts sent again to Alertmanager).",
		}, []string{"channel", "result"}),
		healing: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dspyfleet_healing_commands_total",
			Help: "Healing commands the rules issued, by action and result (issued, escalation, error).",
		}, []string{"action", "result"}),
		evalErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dspyfleet_alert_rule_eval_errors_total",
			Help: "Rule conditions that failed to evaluate on a target.",
		}),
		cutOff: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dspyfleet_alert_rules_cut_off_total",
			Help: "Rules the alert step's time budget (--alerts-step-budget) stopped before they were evaluated on every target.",
		}),
		events: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "dspyfleet_alert_events_stored",
			Help: "Alert and healing events kept in the store.",
		}),
	}
	pr.MustRegister(m.states, m.notifications, m.healing, m.evalErrors, m.cutOff, m.events)
	return m
}

// setStates sets the alert gauges from the current alerts.
func (m *alertMetrics) setStates(alerts map[string]rules.Alert) {
	counts := make(map[[2]string]int)
	for _, st := range []rules.State{rules.StatePending, rules.StateFiring, rules.StateResolved} {
		for _, sev := range []rules.Severity{rules.SeverityInfo, rules.SeverityWarning, rules.SeverityCritical} {
			counts[[2]string{string(st), string(sev)}] = 0
		}
	}
	for _, a := range alerts {
		k := [2]string{string(a.State), string(a.Severity)}
		if _, ok := counts[k]; ok {
			counts[k]++
		}
	}
	for k, n := range counts {
		m.states.WithLabelValues(k[0], k[1]).Set(float64(n))
	}
}
