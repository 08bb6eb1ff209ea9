package controlplane

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the control plane's own Prometheus metrics.
type metrics struct {
	reports     *prometheus.CounterVec
	sessions    *prometheus.CounterVec
	flushes     prometheus.Histogram
	flushErrors prometheus.Counter
}

// newMetrics registers the control plane's metrics, node gauges drawn from reg, and the Go and
// process collectors on a fresh Prometheus registry.
func newMetrics(reg *registry) (*prometheus.Registry, *metrics) {
	m := &metrics{
		reports: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dspyfleet_reports_total",
			Help: "Agent metrics reports received, by result (accepted, duplicate, rejected).",
		}, []string{"result"}),
		sessions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dspyfleet_agent_sessions_total",
			Help: "Agent sessions opened, by result (accepted, rejected).",
		}, []string{"result"}),
		flushes: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "dspyfleet_store_flush_seconds",
			Help:    "Duration of batched node writes to bbolt.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		flushErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dspyfleet_store_flush_errors_total",
			Help: "Batched node writes to bbolt that failed and were retried.",
		}),
	}
	pr := prometheus.NewRegistry()
	pr.MustRegister(m.reports, m.sessions, m.flushes, m.flushErrors, &nodesCollector{reg: reg},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return pr, m
}

var (
	nodesDesc = prometheus.NewDesc("dspyfleet_nodes", "Nodes known to the control plane, by pool and state.",
		[]string{"pool", "state"}, nil)
	sessionsDesc = prometheus.NewDesc("dspyfleet_agent_sessions", "Open agent sessions.", nil, nil)
)

// nodesCollector reads node counts from the registry at scrape time.
type nodesCollector struct{ reg *registry }

// Describe implements prometheus.Collector.
func (c *nodesCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- nodesDesc
	ch <- sessionsDesc
}

// Collect implements prometheus.Collector.
func (c *nodesCollector) Collect(ch chan<- prometheus.Metric) {
	for k, n := range c.reg.stateCounts() {
		ch <- prometheus.MustNewConstMetric(nodesDesc, prometheus.GaugeValue, float64(n), k[0], k[1])
	}
	ch <- prometheus.MustNewConstMetric(sessionsDesc, prometheus.GaugeValue, float64(c.reg.sessions()))
}
