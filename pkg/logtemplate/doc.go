// Package logtemplate owns log pattern detection: a Drain-style miner that groups log lines
// into templates (numbers, ids and hex masked), the severity of a line, and the per-template
// baselines and anomaly score the control plane computes from the counts agents report. It is
// pure: no I/O, goroutines or wall clock.
package logtemplate
