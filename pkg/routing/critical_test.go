package routing

import (
	"fmt"
	"testing"
	"time"
)

func TestPickCritical(t *testing.T) {
	for _, tc := range []struct {
		name string
		spot []bool
		// want is the set of nodes critical picks may land on.
		want map[string]bool
	}{
		{"on-demand preferred", []bool{true, false, true, false}, map[string]bool{"n01": true, "n03": true}},
		{"all spot: any node", []bool{true, true}, map[string]bool{"n00": true, "n01": true}},
		{"all on-demand", []bool{false, false}, map[string]bool{"n00": true, "n01": true}},
	} {
		for _, s := range Strategies() {
			t.Run(fmt.Sprintf("%s/%s", tc.name, s), func(t *testing.T) {
				nodes := readyNodes(len(tc.spot))
				for i, spot := range tc.spot {
					nodes[i].Spot = spot
				}
				p := newPool(policy(s), nodes)
				seen := map[string]int{}
				for range 40 {
					pk, err := p.PickCritical("k")
					if err != nil {
						t.Fatal(err)
					}
					if !tc.want[pk.ID] {
						t.Fatalf("critical pick went to %s, want one of %v", pk.ID, tc.want)
					}
					seen[pk.ID]++
				}
				if len(seen) != len(tc.want) {
					t.Errorf("critical picks spread over %v, want every one of %v", seen, tc.want)
				}
			})
		}
	}
}

func TestPickCriticalSkipsDrainingOnDemand(t *testing.T) {
	nodes := readyNodes(2)
	nodes[0].Spot = true
	nodes[1].Ready, nodes[1].State, nodes[1].Counted = false, "draining", false
	p := newPool(policy(RoundRobin), nodes)
	pk, err := p.PickCritical("")
	if err != nil || pk.ID != "n00" {
		t.Fatalf("critical pick with the on-demand node draining = %v, %v; want the spot node", pk, err)
	}
	if _, err := p.Result(pk.ID, pk.Epoch, time.Millisecond, true, t0); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkPickCritical(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("nodes=%d", n), func(b *testing.B) {
			nodes := readyNodes(n)
			for i := range nodes {
				nodes[i].Spot = i%4 != 0
			}
			p := newPool(policy(RoundRobin), nodes)
			b.ReportAllocs()
			for b.Loop() {
				pk, err := p.PickCritical("")
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
