package main

import "runtime/debug"

// The agent's memory defaults, set at start unless $GOGC or $GOMEMLIMIT is set: the agent's
// heap is a few MiB, so collecting at half its growth and a soft limit keep the resident
// set within the 20 MiB budget for a CPU cost that stays well under 0.5 % of a core
// (BENCHMARKS.md sections 6 and 9).
const (
	defaultGCPercent   = 50
	defaultMemoryLimit = 12 << 20
)

// setMemoryDefaults applies the defaults the environment does not override.
func setMemoryDefaults(env func(string) (string, bool)) {
	if v, ok := env("GOGC"); !ok || v == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
	if v, ok := env("GOMEMLIMIT"); !ok || v == "" {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
}
