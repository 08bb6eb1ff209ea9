package main

import (
	"math"
	"runtime/debug"
	"testing"
)

func TestSetMemoryDefaults(t *testing.T) {
	oldGC, oldLimit := debug.SetGCPercent(100), debug.SetMemoryLimit(math.MaxInt64)
	t.Cleanup(func() {
		debug.SetGCPercent(oldGC)
		debug.SetMemoryLimit(oldLimit)
	})
	setMemoryDefaults(func(string) (string, bool) { return "", false })
	if gc, limit := debug.SetGCPercent(-1), debug.SetMemoryLimit(-1); gc != defaultGCPercent || limit != defaultMemoryLimit {
		t.Fatalf("GOGC %d limit %d, want the defaults", gc, limit)
	}

	debug.SetGCPercent(100)
	debug.SetMemoryLimit(math.MaxInt64)
	setMemoryDefaults(func(k string) (string, bool) { return "off", true })
	if gc, limit := debug.SetGCPercent(-1), debug.SetMemoryLimit(-1); gc != 100 || limit != math.MaxInt64 {
		t.Fatalf("GOGC %d limit %d: the environment's settings were overridden", gc, limit)
	}
}
