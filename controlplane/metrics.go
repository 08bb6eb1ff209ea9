package controlplane

import (
	"runtime"

	"github.com/dspyfleet/dspyfleet/controlplane/fleet"
	"github.com/dspyfleet/dspyfleet/controlplane/stats"
	"github.com/dspyfleet/dspyfleet/internal/version"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the control plane's own Prometheus metrics.
type metrics struct {
	flushes     prometheus.Histogram
	flushErrors prometheus.Counter

	reconcileSeconds *prometheus.HistogramVec
	reconcileErrors  *prometheus.CounterVec

	nodesRemoved *prometheus.CounterVec
}

// newMetrics registers the control plane's metrics, node gauges drawn from reg, and the Go and
// process collectors on a fresh Prometheus registry.
func newMetrics(reg *fleet.Registry, stats *stats.Requests) (*prometheus.Registry, *metrics) {
	m := &metrics{
		flushes: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "dspyfleet_store_flush_seconds",
			Help:    "Duration of batched node writes to bbolt.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		flushErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dspyfleet_store_flush_errors_total",
			Help: "Batched node writes to bbolt that failed and were retried.",
		}),
		reconcileSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "dspyfleet_reconcile_step_seconds",
			Help:    "Duration of each reconcile loop step.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}, []string{"step"}),
		reconcileErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dspyfleet_reconcile_step_errors_total",
			Help: "Reconcile loop steps that returned an error, by step.",
		}, []string{"step"}),
		nodesRemoved: newRemovedNodes(),
	}
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "dspyfleet_build_info",
		Help:        "Always 1; the labels name the control plane's version, VCS revision and Go version.",
		ConstLabels: prometheus.Labels{"version": version.Version, "revision": version.Revision(), "goversion": runtime.Version()},
	})
	buildInfo.Set(1)
	pr := prometheus.NewRegistry()
	pr.MustRegister(buildInfo, m.flushes, m.flushErrors, m.reconcileSeconds, m.reconcileErrors, m.nodesRemoved,
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "dspyfleet_new_nodes_refused_total",
			Help: "New node ids refused because their credential registered new ids faster than --max-new-nodes-per-minute allows.",
		}, func() float64 { return float64(reg.NewNodes.Refused()) }),
		&nodesCollector{reg: reg}, &requestsCollector{stats: stats}, &hostCollector{reg: reg},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return pr, m
}

var (
	nodesDesc = prometheus.NewDesc("dspyfleet_nodes", "Nodes known to the control plane, by pool and state.",
		[]string{"pool", "state"}, nil)
	sessionsDesc = prometheus.NewDesc("dspyfleet_agent_sessions", "Open agent sessions.", nil, nil)
)

// nodesCollector reads node counts from the registry at scrape time.
type nodesCollector struct{ reg *fleet.Registry }

// Describe implements prometheus.Collector.
func (c *nodesCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- nodesDesc
	ch <- sessionsDesc
}

// Collect implements prometheus.Collector.
func (c *nodesCollector) Collect(ch chan<- prometheus.Metric) {
	for k, n := range c.reg.StateCounts() {
		ch <- prometheus.MustNewConstMetric(nodesDesc, prometheus.GaugeValue, float64(n), k[0], k[1])
	}
	ch <- prometheus.MustNewConstMetric(sessionsDesc, prometheus.GaugeValue, float64(c.reg.Sessions()))
}

var (
	dspyRequestsDesc = prometheus.NewDesc("dspyfleet_dspy_requests_total", "DSPy requests reported by the node's agent.", []string{"pool", "node"}, nil)
	dspyErrorsDesc   = prometheus.NewDesc("dspyfleet_dspy_errors_total", "DSPy requests that failed.", []string{"pool", "node"}, nil)
	dspyTokensDesc   = prometheus.NewDesc("dspyfleet_dspy_tokens_total", "Model tokens used, by direction (input, output).", []string{"pool", "node", "direction"}, nil)
	dspyCacheDesc    = prometheus.NewDesc("dspyfleet_dspy_cache_lookups_total", "DSPy cache lookups, by result (hit, miss).", []string{"pool", "node", "result"}, nil)
	dspyCostDesc     = prometheus.NewDesc("dspyfleet_dspy_cost_usd_total", "Model cost of the requests, in USD.", []string{"pool", "node"}, nil)
	dspySavedDesc    = prometheus.NewDesc("dspyfleet_dspy_cache_saved_usd_total", "Model cost DSPy cache hits saved, in USD.", []string{"pool", "node"}, nil)
	dspyLatencyDesc  = prometheus.NewDesc("dspyfleet_dspy_request_duration_seconds",
		"DSPy request latency of the pool's nodes, from their agents' sketches (bucket counts within the sketches' 1 % relative accuracy); aggregate it with histogram_quantile.", []string{"pool"}, nil)
)

// requestsCollector exports the cumulative DSPy request counters of each node (sum by pool in
// PromQL for a pool's figures). Percentiles are
// left to GetPoolStats (merged sketches) and to Prometheus histograms on the app side: a
// quantile gauge cannot be aggregated correctly.
type requestsCollector struct{ stats *stats.Requests }

// Describe implements prometheus.Collector.
func (c *requestsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{dspyRequestsDesc, dspyErrorsDesc, dspyTokensDesc, dspyCacheDesc, dspyCostDesc, dspySavedDesc, dspyLatencyDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *requestsCollector) Collect(ch chan<- prometheus.Metric) {
	type hist struct {
		atMost [len(stats.LatencyBuckets)]uint64
		count  uint64
		sum    float64
	}
	pools := map[string]*hist{}
	for k, t := range c.stats.Counters() {
		h := pools[k[0]]
		if h == nil {
			h = &hist{}
			pools[k[0]] = h
		}
		for i, n := range t.LatencyAtMost {
			h.atMost[i] += n
		}
		h.count += t.LatencyCount
		h.sum += t.LatencySeconds
		pool, node := k[0], k[1]
		ch <- prometheus.MustNewConstMetric(dspyRequestsDesc, prometheus.CounterValue, float64(t.Requests), pool, node)
		ch <- prometheus.MustNewConstMetric(dspyErrorsDesc, prometheus.CounterValue, float64(t.Errors), pool, node)
		ch <- prometheus.MustNewConstMetric(dspyTokensDesc, prometheus.CounterValue, float64(t.InputTokens), pool, node, "input")
		ch <- prometheus.MustNewConstMetric(dspyTokensDesc, prometheus.CounterValue, float64(t.OutputTokens), pool, node, "output")
		ch <- prometheus.MustNewConstMetric(dspyCacheDesc, prometheus.CounterValue, float64(t.CacheHits), pool, node, "hit")
		ch <- prometheus.MustNewConstMetric(dspyCacheDesc, prometheus.CounterValue, float64(t.CacheMisses), pool, node, "miss")
		ch <- prometheus.MustNewConstMetric(dspyCostDesc, prometheus.CounterValue, t.CostUSD, pool, node)
		ch <- prometheus.MustNewConstMetric(dspySavedDesc, prometheus.CounterValue, t.SavedUSD, pool, node)
	}
	for pool, h := range pools {
		buckets := make(map[float64]uint64, len(stats.LatencyBuckets))
		for i, b := range stats.LatencyBuckets {
			buckets[b] = h.atMost[i]
		}
		ch <- prometheus.MustNewConstHistogram(dspyLatencyDesc, h.count, h.sum, buckets, pool)
	}
}
