// Package scaling owns the autoscaler's decisions: a pool's Policy and its validation, the
// reactive multi-metric formula with tolerance, custom rules, stabilization windows, rate
// policies and cooldowns, scale to zero, the choice of scale-down victims, the predictive
// Holt-Winters forecast that raises a pool's floor ahead of load, and a simulator that replays a
// request-rate trace through the same code.
//
// Everything here is pure: no goroutines, no I/O and no wall clock. Decide is a function of a
// Policy, the State carried over from the previous tick and a Snapshot taken at a given time; it
// returns the Decision (with every metric's proposal, the rule that limited the result, the
// cooldown left and the reason in words) and the next State. Callers keep the State between
// ticks, so nothing is remembered behind their back.
package scaling
