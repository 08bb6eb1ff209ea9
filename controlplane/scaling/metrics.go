package scaling

import (
	"github.com/prometheus/client_golang/prometheus"
)

var (
	scalingSizeDesc = prometheus.NewDesc("dspyfleet_scaling_size",
		"A scaled pool's size at its latest decision, by kind (current, ready, desired, recommended).", []string{"pool", "kind"}, nil)
	scalingCooldownDesc = prometheus.NewDesc("dspyfleet_scaling_cooldown_seconds",
		"Cooldown left at the pool's latest decision.", []string{"pool"}, nil)
	scalingHookRunsDesc = prometheus.NewDesc("dspyfleet_scaling_hook_runs_total",
		"Exec hook runs, by result (succeeded, failed).", []string{"pool", "result"}, nil)
	scalingForecastErrorDesc = prometheus.NewDesc("dspyfleet_scaling_forecast_mape",
		"Mean absolute percentage error of the pool's load forecast one horizon ahead (0.05 is 5 %).", []string{"pool"}, nil)
)

// Collector exports each scaled pool's latest decision, forecast error and hook runs.
type Collector struct{ Scaler *Scaler }

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- scalingSizeDesc
	ch <- scalingCooldownDesc
	ch <- scalingHookRunsDesc
	ch <- scalingForecastErrorDesc
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.Scaler.mu.Lock()
	defer c.Scaler.mu.Unlock()
	for pool, ps := range c.Scaler.pools {
		ch <- prometheus.MustNewConstMetric(scalingHookRunsDesc, prometheus.CounterValue, float64(ps.hookRuns[0]), pool, actSucceeded)
		ch <- prometheus.MustNewConstMetric(scalingHookRunsDesc, prometheus.CounterValue, float64(ps.hookRuns[1]), pool, actFailed)
		if fc := ps.forecast; fc != nil && fc.Mape != nil {
			ch <- prometheus.MustNewConstMetric(scalingForecastErrorDesc, prometheus.GaugeValue, fc.GetMape(), pool)
		}
		d := ps.last
		if d == nil {
			continue
		}
		for _, s := range []struct {
			kind string
			v    uint32
		}{{"current", d.GetCurrent()}, {"ready", d.GetReady()}, {"desired", d.GetDesired()}, {"recommended", d.GetRecommended()}} {
			ch <- prometheus.MustNewConstMetric(scalingSizeDesc, prometheus.GaugeValue, float64(s.v), pool, s.kind)
		}
		ch <- prometheus.MustNewConstMetric(scalingCooldownDesc, prometheus.GaugeValue, d.GetCooldownLeft().AsDuration().Seconds(), pool)
	}
}
