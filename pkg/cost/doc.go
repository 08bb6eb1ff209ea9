// Package cost owns the money side of a fleet: the price Table (hosts per instance type and
// purchase option, models per million tokens), host and token accrual into per-hour Entries,
// Budgets with their thresholds and forecasts over UTC (or zoned) periods, Holds that reserve
// spend against hard budgets so concurrent requests cannot overshoot, and Recommendations with
// their evidence and estimated monthly savings.
//
// Everything here is pure: no goroutines, no I/O and no wall clock. Callers pass the time and
// the figures in; the control plane stores what comes back.
package cost
