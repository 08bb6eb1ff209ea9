// Package cost owns what the fleet costs: the price table, the hourly cost ledger (host time
// and token cost per pool, node, model and program), budgets with their thresholds and the hard
// budget gate that Pick consults, right-sizing recommendations, usage samples, and the cost
// figures exported to Prometheus. The pricing and budget arithmetic itself is pkg/cost.
package cost
