package controlplane

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dspyfleet/dspyfleet/controlplane/fleet"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// Per-node gauges from each connected node's last report, and per-pool healthy counts. Labels
// are pool and node only (mount points are folded into the fullest one), so the series count
// grows with the fleet and nothing else.
var (
	nodeCPUDesc      = prometheus.NewDesc("dspyfleet_node_cpu_percent", "CPU busy share of the node, 0-100, from its last report.", []string{"pool", "node"}, nil)
	nodeMemoryDesc   = prometheus.NewDesc("dspyfleet_node_memory_used_percent", "Used memory share of the node, 0-100.", []string{"pool", "node"}, nil)
	nodeDiskDesc     = prometheus.NewDesc("dspyfleet_node_disk_used_max_percent", "Used share of the node's fullest file system, 0-100.", []string{"pool", "node"}, nil)
	nodeLoadDesc     = prometheus.NewDesc("dspyfleet_node_load1", "One-minute load average of the node.", []string{"pool", "node"}, nil)
	nodeInFlightDesc = prometheus.NewDesc("dspyfleet_node_dspy_in_flight", "DSPy requests in flight on the node.", []string{"pool", "node"}, nil)
	nodeQueueDesc    = prometheus.NewDesc("dspyfleet_node_dspy_queue_length", "DSPy requests waiting for a worker on the node.", []string{"pool", "node"}, nil)
	nodeErrRateDesc  = prometheus.NewDesc("dspyfleet_node_dspy_error_rate", "Share of the node's DSPy requests that failed in its last report window, 0-1.", []string{"pool", "node"}, nil)
	nodeP95Desc      = prometheus.NewDesc("dspyfleet_node_dspy_latency_p95_seconds", "95th percentile DSPy latency of the node's last report window, in seconds (for one node; aggregate dspyfleet_dspy_request_duration_seconds instead).", []string{"pool", "node"}, nil)
	poolHealthyDesc  = prometheus.NewDesc("dspyfleet_pool_healthy_nodes", "Ready nodes of the pool: those routing may pick.", []string{"pool"}, nil)
)

// hostCollector reads node figures from the registry at scrape time.
type hostCollector struct{ reg *fleet.Registry }

// Describe implements prometheus.Collector.
func (c *hostCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{nodeCPUDesc, nodeMemoryDesc, nodeDiskDesc, nodeLoadDesc, nodeInFlightDesc, nodeQueueDesc, nodeErrRateDesc, nodeP95Desc, poolHealthyDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *hostCollector) Collect(ch chan<- prometheus.Metric) {
	healthy := make(map[string]int)
	for _, n := range c.reg.ListShared() {
		pool, id := n.GetPool(), n.GetId()
		if _, ok := healthy[pool]; !ok {
			healthy[pool] = 0
		}
		if n.GetState() == fleetv1.NodeState_NODE_STATE_READY {
			healthy[pool]++
		}
		rep := n.GetLastReport()
		if !fleet.Connected(n.GetState()) || rep == nil {
			continue
		}
		h, app := rep.GetHost(), rep.GetApp()
		var disk float64
		for _, d := range h.GetDisks() {
			disk = max(disk, d.GetUsedPercent())
		}
		gauge := func(d *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, pool, id)
		}
		gauge(nodeCPUDesc, h.GetCpuPercent())
		gauge(nodeMemoryDesc, h.GetMemoryUsedPercent())
		gauge(nodeDiskDesc, disk)
		gauge(nodeLoadDesc, h.GetLoad1())
		gauge(nodeInFlightDesc, float64(app.GetInFlight()))
		gauge(nodeQueueDesc, float64(app.GetQueueLength()))
		gauge(nodeErrRateDesc, app.GetErrorRate())
		gauge(nodeP95Desc, app.GetLatencyP95Ms()/1000)
	}
	for pool, n := range healthy {
		ch <- prometheus.MustNewConstMetric(poolHealthyDesc, prometheus.GaugeValue, float64(n), pool)
	}
}
