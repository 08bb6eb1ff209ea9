package maintenance

import (
	"github.com/prometheus/client_golang/prometheus"

	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// Collector exposes backups, deployments and maintenance windows to Prometheus,
// read at scrape time.
type Collector struct {
	Backups  *Backups
	Deployer *Deployer
	Windows  *Windows
}

var (
	backupCountDesc = prometheus.NewDesc("dspyfleet_backups",
		"Control-plane backups in the backup directory.", nil, nil)
	backupLastDesc = prometheus.NewDesc("dspyfleet_backup_last_timestamp_seconds",
		"When the newest control-plane backup was taken, in Unix seconds; alert when it grows old.", nil, nil)
	deploymentsDesc = prometheus.NewDesc("dspyfleet_deployments_in_progress",
		"Deployments in progress (running, paused or winding down), by pool.", []string{"pool"}, nil)
	windowsDesc = prometheus.NewDesc("dspyfleet_maintenance_windows_open",
		"Maintenance windows open now (running or paused), by pool.", []string{"pool"}, nil)
)

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- backupCountDesc
	ch <- backupLastDesc
	ch <- deploymentsDesc
	ch <- windowsDesc
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	if metas, err := c.Backups.read(); err == nil {
		ch <- prometheus.MustNewConstMetric(backupCountDesc, prometheus.GaugeValue, float64(len(metas)))
		if len(metas) > 0 {
			ch <- prometheus.MustNewConstMetric(backupLastDesc, prometheus.GaugeValue, float64(metas[0].Created.UnixNano())/1e9)
		}
	}
	deps := map[string]int{}
	for _, d := range c.Deployer.List("") {
		if Active(d) {
			deps[d.GetSpec().GetPool()]++
		}
	}
	for pool, n := range deps {
		ch <- prometheus.MustNewConstMetric(deploymentsDesc, prometheus.GaugeValue, float64(n), pool)
	}
	open := map[string]int{}
	for _, m := range c.Windows.List("") {
		if m.GetFinished() == nil && m.GetState() != fleetv1.MaintenanceState_MAINTENANCE_STATE_SCHEDULED {
			open[m.GetSpec().GetPool()]++
		}
	}
	for pool, n := range open {
		ch <- prometheus.MustNewConstMetric(windowsDesc, prometheus.GaugeValue, float64(n), pool)
	}
}
