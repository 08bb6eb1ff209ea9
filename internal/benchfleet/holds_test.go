package benchfleet

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/dspyfleet/dspyfleet/controlplane/stats"
	"github.com/dspyfleet/dspyfleet/pkg/reqstats"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// BenchmarkHolds times, one at a time and with no reports arriving, the registry and rollup
// reads the reconcile steps make at 10,000 nodes. Each of them holds the lock a report needs
// (fleet.Registry's or stats.Requests') for all of its work, so its time per op is how long it
// keeps reports out: ListShared sorts after unlocking, so its figure is a little above its hold.
// The rollups hold 10 minutes of history, as the step benchmarks; history=90 is the steady state
// of a fleet that has run for 90 minutes (stats.MemoryMinutes); it takes about 30 s to build.
func BenchmarkHolds(b *testing.B) {
	for _, history := range []int{10, 90} {
		b.Run(fmt.Sprintf("history=%d", history), func(b *testing.B) {
			f := New(b, Options{History: history})
			now, pool := f.Now(), f.Pools[0]
			reads := []struct {
				name string
				read func() error
			}{
				{"Registry.Pools", func() error { f.Reg.Pools(); return nil }},
				{"Registry.RoutingNodes", func() error {
					for _, p := range f.Reg.Pools() {
						f.Reg.RoutingNodes(p)
					}
					return nil
				}},
				{"Registry.ScalingNodes", func() error { f.Reg.ScalingNodes(pool); return nil }},
				{"Registry.ListShared", func() error { f.Reg.ListShared(); return nil }},
				{"Registry.List", func() error { f.Reg.List(&fleetv1.ListNodesRequest{}); return nil }},
				{"Requests.Window/1m", func() error { _, err := f.Stats.Window(pool, now.Add(-time.Minute)); return err }},
				{"Requests.Window/2m", func() error { _, err := f.Stats.Window(pool, now.Add(-2*time.Minute)); return err }},
				{"Requests.EachRollupBetween/2h", func() error {
					first := now.Add(-time.Hour).Unix() / 3600 * 60
					return f.Stats.EachRollupBetween(first, now.Unix()/60, f.HistoryStart.Unix()/60, func(stats.RollupKey, reqstats.Window) {})
				}},
			}
			for _, r := range reads {
				b.Run(r.name, func(b *testing.B) {
					for b.Loop() {
						if err := r.read(); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}

// BenchmarkNoLockStep is the floor of the report waits WhileReporting measures: steps that take
// no lock a report needs, for 100 ms each, at 10,000 nodes: asleep, busy on a core without
// allocating, and busy allocating 64 MB (about what the routing step allocates). What a report
// waits here is the machine (2 cores shared by the step, the garbage collector and the senders),
// not a lock.
func BenchmarkNoLockStep(b *testing.B) {
	f := New(b, Options{})
	const d = 100 * time.Millisecond
	b.Run("sleep", func(b *testing.B) {
		f.RunSteps(b, Interval, func(context.Context, time.Time) error { time.Sleep(d); return nil })
	})
	b.Run("busy", func(b *testing.B) {
		f.RunSteps(b, Interval, func(context.Context, time.Time) error {
			n := 0
			for end := time.Now().Add(d); time.Now().Before(end); {
				n++
			}
			sink = n
			return nil
		})
	})
	b.Run("alloc", func(b *testing.B) {
		f.RunSteps(b, Interval, func(context.Context, time.Time) error {
			const chunks, size = 1 << 16, 1 << 10 // 64 MB over the 100 ms
			var keep [][]byte
			start := time.Now()
			for i := range chunks {
				keep = append(keep, make([]byte, size))
				if pace := start.Add(d * time.Duration(i) / chunks); time.Now().Before(pace) {
					time.Sleep(time.Until(pace))
				}
			}
			sink = len(keep)
			return nil
		})
	})
}

var sink int
