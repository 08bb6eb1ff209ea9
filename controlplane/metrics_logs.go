package controlplane

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dspyfleet/dspyfleet/controlplane/fleet"
	"github.com/dspyfleet/dspyfleet/controlplane/logs"
	"github.com/dspyfleet/dspyfleet/pkg/rules"
)

// Per-node log and security gauges from each connected node's last report window, labelled by
// pool and node (and the event kind): templates stay out of the labels, so the series count
// grows with the fleet alone.
var (
	nodeLogLinesDesc     = prometheus.NewDesc("dspyfleet_node_log_lines_per_minute", "Log lines per minute of the node's last report window.", []string{"pool", "node"}, nil)
	nodeLogErrorRateDesc = prometheus.NewDesc("dspyfleet_node_log_error_rate", "Share of the node's log lines at error level in its last report window, 0-1.", []string{"pool", "node"}, nil)
	nodeLogErrorsDesc    = prometheus.NewDesc("dspyfleet_node_log_errors_per_minute", "Error log lines per minute of the node's last report window.", []string{"pool", "node"}, nil)
	nodeLogNewDesc       = prometheus.NewDesc("dspyfleet_node_log_new_templates", "Log templates of the node first seen within the last ten minutes.", []string{"pool", "node"}, nil)
	nodeSecurityDesc     = prometheus.NewDesc("dspyfleet_node_security_events", "Security events of the node's last minutes (its agent's security.window), by kind: ssh_failures, sudo_failures, new_listeners, file_changed.", []string{"pool", "node", "kind"}, nil)
	nodeLogAnomalyDesc   = prometheus.NewDesc("dspyfleet_node_log_anomaly_score", "Highest score of the node's log templates in its last window: standard deviations above the template's baseline rate.", []string{"pool", "node"}, nil)
)

// logsCollector reads the nodes' log figures at scrape time.
type logsCollector struct {
	reg  *fleet.Registry
	book *logs.Book
}

// Describe implements prometheus.Collector.
func (c *logsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{nodeLogLinesDesc, nodeLogErrorRateDesc, nodeLogErrorsDesc, nodeLogNewDesc, nodeLogAnomalyDesc, nodeSecurityDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *logsCollector) Collect(ch chan<- prometheus.Metric) {
	for _, n := range c.reg.ListShared() {
		if !fleet.Connected(n.GetState()) {
			continue
		}
		if sec := n.GetLastReport().GetSecurity(); sec != nil {
			for kind, v := range map[string]uint32{"ssh_failures": sec.GetSshFailures(), "sudo_failures": sec.GetSudoFailures(),
				"new_listeners": sec.GetNewListeners(), "file_changed": sec.GetFileChanged()} {
				ch <- prometheus.MustNewConstMetric(nodeSecurityDesc, prometheus.GaugeValue, float64(v), n.GetPool(), n.GetId(), kind)
			}
		}
		f, ok := c.book.Figures(n.GetId())
		if !ok {
			continue
		}
		gauge := func(d *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, n.GetPool(), n.GetId())
		}
		gauge(nodeLogLinesDesc, f.LinesPerMin)
		gauge(nodeLogErrorRateDesc, f.ErrorRate)
		gauge(nodeLogErrorsDesc, f.ErrorsPerMin)
		gauge(nodeLogNewDesc, float64(f.NewTemplates))
		gauge(nodeLogAnomalyDesc, f.Anomaly)
	}
}

// nodeLogs is a node's log figures as alert conditions read them (node.logs).
func (s *Server) nodeLogs(node string) rules.Logs {
	f, ok := s.logs.Figures(node)
	if !ok {
		return rules.Logs{}
	}
	return rules.Logs{
		Lines: int64(f.Lines), Errors: int64(f.Errors), ErrorRate: f.ErrorRate, ErrorsPerMin: f.ErrorsPerMin,
		NewTemplates: int64(f.NewTemplates), NewErrorsPerMin: f.NewErrorsPerMin, Anomaly: f.Anomaly,
	}
}
