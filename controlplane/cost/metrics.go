package cost

import (
	"time"

	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
	"github.com/prometheus/client_golang/prometheus"
)

var (
	costTotalDesc = prometheus.NewDesc("dspyfleet_cost_usd_total",
		"Cost accrued since the control plane started, in USD, by pool and kind (host, tokens).", []string{"pool", "kind"}, nil)
	costRateDesc = prometheus.NewDesc("dspyfleet_cost_usd_per_hour",
		"Current cost rate in USD per hour, by pool and kind: host from the prices of billed nodes, tokens over the last hour or so.", []string{"pool", "kind"}, nil)
	modelCostTotalDesc = prometheus.NewDesc("dspyfleet_model_cost_usd_total",
		"Model token cost accrued since the control plane started, in USD, by model.", []string{"model"}, nil)
	modelCostRateDesc = prometheus.NewDesc("dspyfleet_model_cost_usd_per_hour",
		"Model token cost rate in USD per hour over the last hour or so, by model.", []string{"model"}, nil)
	unpricedNodesDesc = prometheus.NewDesc("dspyfleet_cost_unpriced_nodes",
		"Billed nodes whose host price is unknown (their cost is unknown, not 0).", nil, nil)
	budgetUsedDesc = prometheus.NewDesc("dspyfleet_budget_used_ratio",
		"Spend of a budget's current period over its limit.", []string{"budget"}, nil)
)

// Collector exports the cost tracker's totals and rates at scrape time.
type Collector struct {
	Tracker *Tracker
	Now     func() time.Time
}

// Describe implements prometheus.Collector.
func (m *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{costTotalDesc, costRateDesc, modelCostTotalDesc, modelCostRateDesc, unpricedNodesDesc, budgetUsedDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector. It takes the tracker's figures under its lock and
// sends them after.
func (m *Collector) Collect(ch chan<- prometheus.Metric) {
	c := m.Tracker
	now := m.Now()
	c.mu.Lock()
	totals, hostRate, modelTotals, unpriced := c.totals, c.hostRate, c.modelTotals, len(c.unpriced)
	byPool, byModel := c.ratesLocked(now)
	used := make(map[string]float64, len(c.states))
	for name, st := range c.states {
		used[name] = st.GetUsed()
		if b := c.budgets[name]; b != nil {
			withBudget := &fleetv1.BudgetStatus{Budget: b, SpendUsd: st.GetSpendUsd(), Used: st.GetUsed()}
			c.withCommitted(withBudget)
			used[name] = withBudget.GetUsed()
		}
	}
	c.mu.Unlock()
	for k, usd := range totals {
		ch <- prometheus.MustNewConstMetric(costTotalDesc, prometheus.CounterValue, usd, k[0], k[1])
	}
	for pool, r := range hostRate {
		ch <- prometheus.MustNewConstMetric(costRateDesc, prometheus.GaugeValue, r, pool, "host")
	}
	for pool, r := range byPool {
		ch <- prometheus.MustNewConstMetric(costRateDesc, prometheus.GaugeValue, r, pool, "tokens")
	}
	for model, usd := range modelTotals {
		ch <- prometheus.MustNewConstMetric(modelCostTotalDesc, prometheus.CounterValue, usd, model)
	}
	for model, r := range byModel {
		ch <- prometheus.MustNewConstMetric(modelCostRateDesc, prometheus.GaugeValue, r, model)
	}
	ch <- prometheus.MustNewConstMetric(unpricedNodesDesc, prometheus.GaugeValue, float64(unpriced))
	for name, u := range used {
		ch <- prometheus.MustNewConstMetric(budgetUsedDesc, prometheus.GaugeValue, u, name)
	}
}
