package routing

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkPick measures a pick and the result that settles it, the steady state of a pool,
// for every strategy and pool size.
func BenchmarkPick(b *testing.B) {
	for _, s := range Strategies() {
		for _, n := range []int{10, 100, 1000} {
			b.Run(fmt.Sprintf("%s/nodes=%d", s, n), func(b *testing.B) {
				p, keys := benchPool(s, n)
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; b.Loop(); i++ {
					pk, err := p.Pick(keys[i&1023])
					if err != nil {
						b.Fatal(err)
					}
					if _, err := p.Result(pk.ID, pk.Epoch, 50*time.Millisecond, true, t0); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkPickOnly measures Pick alone: picks run in batches of 1,024 and the results that
// settle them run with the timer stopped, so loads stay steady.
func BenchmarkPickOnly(b *testing.B) {
	for _, s := range Strategies() {
		for _, n := range []int{10, 100, 1000} {
			b.Run(fmt.Sprintf("%s/nodes=%d", s, n), func(b *testing.B) {
				p, keys := benchPool(s, n)
				picks := make([]Pick, 1024)
				b.ReportAllocs()
				b.ResetTimer()
				for done := 0; done < b.N; {
					batch := min(len(picks), b.N-done)
					for i := range batch {
						pk, err := p.Pick(keys[i])
						if err != nil {
							b.Fatal(err)
						}
						picks[i] = pk
					}
					b.StopTimer()
					for _, pk := range picks[:batch] {
						if _, err := p.Result(pk.ID, pk.Epoch, 50*time.Millisecond, true, t0); err != nil {
							b.Fatal(err)
						}
					}
					done += batch
					b.StartTimer()
				}
			})
		}
	}
}

// benchPool returns a pool of n nodes of mixed weights and latencies under strategy s, and 1,024
// request keys.
func benchPool(s Strategy, n int) (*Pool, []string) {
	nodes := readyNodes(n)
	for i := range nodes {
		nodes[i].Weight = float64(1 + i%4)
		nodes[i].Latency, nodes[i].Requests = time.Duration(50+i%7)*time.Millisecond, 100
	}
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = fmt.Sprintf("program/%d", i)
	}
	return newPool(policy(s), nodes), keys
}
