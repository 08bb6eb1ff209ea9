// Package stats owns the DSPy request figures of the fleet: one-minute rollups per pool and node,
// kept in memory for the recent past and in the store for the retention, merged into windows for
// routing, scaling, cost, alerts and the API.
package stats
