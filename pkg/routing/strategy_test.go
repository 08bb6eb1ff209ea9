package routing

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func TestRoundRobinCyclesEveryNode(t *testing.T) {
	p := newPool(policy(RoundRobin), readyNodes(4))
	seen := map[string]int{}
	for range 40 {
		seen[mustPick(p, "").ID]++
	}
	for _, n := range readyNodes(4) {
		if seen[n.ID] != 10 {
			t.Errorf("%s picked %d times of 40, want 10", n.ID, seen[n.ID])
		}
	}
}

func TestWeightedRoundRobinExactAndSmooth(t *testing.T) {
	tests := []struct {
		name    string
		weights []float64
	}{
		{"1:2:3", []float64{1, 2, 3}},
		{"5:1:1", []float64{5, 1, 1}},
		{"equal", []float64{2, 2, 2, 2}},
		{"fractional", []float64{0.5, 1.5, 2.25}},
		{"skewed", []float64{100, 1, 1, 1}},
		{"long cycle on the heap", func() []float64 {
			w := make([]float64, 40)
			for i := range w {
				w[i] = 2.5 + float64(i)*0.001
			}
			return w
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nodes := readyNodes(len(tt.weights))
			var total float64
			for i, w := range tt.weights {
				nodes[i].Weight = w
				total += w
			}
			p := newPool(policy(WeightedRoundRobin), nodes)
			cycle := int(p.edf.cycle)
			if precomputed := len(p.edf.schedule) > 0; precomputed != (cycle <= maxSchedule) {
				t.Fatalf("cycle of %d picks precomputed = %v", cycle, precomputed)
			}
			counts := map[string]float64{}
			for c := range 3 {
				for i := 1; i <= cycle; i++ {
					counts[mustPick(p, "").ID]++
					// Smooth: at every prefix each node is within 1.5 picks of its exact share.
					for j, n := range nodes {
						want := float64(c*cycle+i) * tt.weights[j] / total
						if d := math.Abs(counts[n.ID] - want); d > 1.5 {
							t.Fatalf("after %d picks %s has %v, exact share %.2f: off by %.2f", c*cycle+i, n.ID, counts[n.ID], want, d)
						}
					}
				}
				for j, n := range nodes {
					want := float64((c+1)*cycle) * tt.weights[j] / total
					if math.Abs(counts[n.ID]-want) > 1e-9 {
						t.Errorf("after %d cycles %s has %v picks, want exactly %v", c+1, n.ID, counts[n.ID], want)
					}
				}
			}
		})
	}
}

// TestLeastConnectionsPicksAMinimum drives random picks, results and reports and checks every
// pick went to a node whose load was the least, and that no load ever went negative.
func TestLeastConnectionsPicksAMinimum(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	nodes := readyNodes(8)
	p := newPool(policy(LeastConnections), nodes)
	type out struct {
		id    string
		epoch uint32
	}
	var outstanding []out
	for step := range 20000 {
		switch r := rng.IntN(10); {
		case r < 5:
			minLoad := int64(math.MaxInt64)
			for _, e := range p.cands {
				minLoad = min(minLoad, e.load())
			}
			pk := mustPick(p, "")
			if got := p.byID[pk.ID].load() - 1; got != minLoad {
				t.Fatalf("step %d: picked %s with load %d, least load was %d", step, pk.ID, got, minLoad)
			}
			outstanding = append(outstanding, out{pk.ID, pk.Epoch})
		case r < 9 && len(outstanding) > 0:
			i := rng.IntN(len(outstanding))
			o := outstanding[i]
			outstanding = append(outstanding[:i], outstanding[i+1:]...)
			if _, err := p.Result(o.id, o.epoch, time.Millisecond, true, t0); err != nil {
				t.Fatal(err)
			}
		default:
			// A report that races the results: the agent counts what it sees, maybe less.
			i := rng.IntN(len(nodes))
			nodes[i].ReportSeq++
			nodes[i].InFlight = uint32(rng.IntN(3))
			p.Update(nodes, t0)
		}
		for _, e := range p.eps {
			if e.reported < 0 || e.outstanding < 0 {
				t.Fatalf("step %d: %s has negative load (reported %d, outstanding %d)", step, e.ID, e.reported, e.outstanding)
			}
			if e.cand >= 0 && p.lc.load[e.cand] != bucketOf(e.load()) {
				t.Fatalf("step %d: %s is in bucket %d with load %d", step, e.ID, p.lc.load[e.cand], e.load())
			}
		}
	}
}

func TestLeastConnectionsCountsReportedInFlightAndTiesAreRandom(t *testing.T) {
	nodes := readyNodes(3)
	nodes[0].InFlight = 5
	p := newPool(policy(LeastConnections), nodes)
	seen := map[string]int{}
	for range 300 {
		pk := mustPick(p, "")
		seen[pk.ID]++
		if _, err := p.Result(pk.ID, pk.Epoch, time.Millisecond, true, t0); err != nil {
			t.Fatal(err)
		}
	}
	if seen["n00"] != 0 {
		t.Errorf("n00 reports 5 in flight but was picked %d times", seen["n00"])
	}
	if seen["n01"] < 100 || seen["n02"] < 100 {
		t.Errorf("ties between n01 and n02 are not broken at random: %v", seen)
	}
}

func TestTwoChoicesAvoidSlowAndFailingNodes(t *testing.T) {
	for _, s := range []Strategy{LeastLatency, Intelligent} {
		for _, bad := range []string{"slow", "failing"} {
			t.Run(s.String()+"/"+bad, func(t *testing.T) {
				nodes := readyNodes(5)
				for i := range nodes {
					nodes[i].Latency, nodes[i].Requests = 100*time.Millisecond, 100
				}
				if bad == "slow" {
					nodes[0].Latency = 2 * time.Second
				}
				p := newPool(policy(s), nodes)
				seen := map[string]int{}
				for range 5000 {
					pk := mustPick(p, "")
					seen[pk.ID]++
					lat, ok := 100*time.Millisecond, true
					if pk.ID == "n00" && bad == "slow" {
						lat = 2 * time.Second
					}
					if pk.ID == "n00" && bad == "failing" {
						ok = false
					}
					if _, err := p.Result(pk.ID, pk.Epoch, lat, ok, t0); err != nil {
						t.Fatal(err)
					}
				}
				// Uniform would give each node 1000; the bad one loses every comparison.
				if seen["n00"] > 50 {
					t.Errorf("%s node picked %d of 5000 times: %v", bad, seen["n00"], seen)
				}
			})
		}
	}
}

func TestIntelligentWeighsCPUAndInFlight(t *testing.T) {
	nodes := readyNodes(4)
	nodes[0].CPU = 99
	nodes[1].InFlight = 40
	pol := policy(Intelligent)
	pol.Weights = Weights{InFlight: 1, CPU: 1}
	p := newPool(pol, nodes)
	seen := map[string]int{}
	for range 2000 {
		pk := mustPick(p, "")
		seen[pk.ID]++
		if _, err := p.Result(pk.ID, pk.Epoch, time.Millisecond, true, t0); err != nil {
			t.Fatal(err)
		}
	}
	if seen["n00"] >= seen["n02"] || seen["n01"] >= seen["n03"] {
		t.Errorf("busy CPU or in-flight did not lower the share: %v", seen)
	}
}

// hashOwners maps keys to nodes with loads kept at zero (each pick is settled at once).
func hashOwners(p *Pool, keys []string) map[string]string {
	out := make(map[string]string, len(keys))
	for _, k := range keys {
		pk := mustPick(p, k)
		out[k] = pk.ID
		if _, err := p.Result(pk.ID, pk.Epoch, time.Millisecond, true, t0); err != nil {
			panic(err)
		}
	}
	return out
}

func TestConsistentHashMovesAboutOneNthOfKeys(t *testing.T) {
	keys := make([]string, 20000)
	for i := range keys {
		keys[i] = fmt.Sprintf("program-%d/prompt-%x", i%37, i*7919)
	}
	for _, n := range []int{5, 10, 50} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			nodes := readyNodes(n + 1)
			p := newPool(policy(ConsistentHash), nodes[:n])
			before := hashOwners(p, keys)
			if again := hashOwners(p, keys); fmt.Sprint(again) != fmt.Sprint(before) {
				t.Fatal("the same keys landed on different nodes")
			}
			counts := map[string]int{}
			for _, o := range before {
				counts[o]++
			}
			for id, c := range counts {
				if share := float64(c) / float64(len(keys)); share > 2.0/float64(n) || share < 0.4/float64(n) {
					t.Errorf("%s holds %.1f%% of keys with %d nodes", id, share*100, n)
				}
			}
			tolerance := 0.5 / float64(n)
			p.Update(nodes, t0) // add one
			added := hashOwners(p, keys)
			moved := 0
			for k, o := range before {
				if added[k] != o {
					moved++
					if added[k] != nodes[n].ID {
						t.Fatalf("key %s moved from %s to %s, not to the new node", k, o, added[k])
					}
				}
			}
			if frac := float64(moved) / float64(len(keys)); frac > 1/float64(n+1)+tolerance {
				t.Errorf("adding 1 node to %d moved %.1f%% of keys, want about %.1f%%", n, frac*100, 100/float64(n+1))
			}
			p.Update(nodes[1:n], t0) // remove n00
			removed := hashOwners(p, keys)
			moved = 0
			for k, o := range before {
				if removed[k] != o {
					moved++
					if o != nodes[0].ID {
						t.Fatalf("key %s moved from %s though only %s left", k, o, nodes[0].ID)
					}
				}
			}
			if frac := float64(moved) / float64(len(keys)); frac > 1/float64(n)+tolerance {
				t.Errorf("removing 1 of %d nodes moved %.1f%% of keys, want about %.1f%%", n, frac*100, 100/float64(n))
			}
		})
	}
}

func TestConsistentHashBoundsLoad(t *testing.T) {
	pol := policy(ConsistentHash)
	pol.LoadFactor = 0.25
	p := newPool(pol, readyNodes(8))
	// Every request has the same key: without the bound one node would take them all.
	for i := range 400 {
		mustPick(p, "hot-key")
		bound := math.Ceil(float64(p.totalLoad) / 8 * 1.25)
		for _, e := range p.cands {
			if float64(e.load()) > bound {
				t.Fatalf("after %d picks %s has %d in flight, above the bound %v", i+1, e.ID, e.load(), bound)
			}
		}
	}
}

func TestOnlyReadyNodesWithAnAddressArePicked(t *testing.T) {
	for _, s := range Strategies() {
		t.Run(s.String(), func(t *testing.T) {
			nodes := readyNodes(4)
			nodes[1].Ready, nodes[1].State = false, "draining"
			nodes[2].Ready, nodes[2].State = false, "down"
			nodes[3].Address = ""
			p := newPool(policy(s), nodes)
			for i := range 50 {
				if pk := mustPick(p, fmt.Sprint(i)); pk.ID != "n00" {
					t.Fatalf("picked %s", pk.ID)
				}
			}
		})
	}
}

func TestUnavailableSaysWhy(t *testing.T) {
	nodes := readyNodes(3)
	for i := range nodes {
		nodes[i].Ready, nodes[i].State = false, "draining"
	}
	nodes[2].State, nodes[2].Counted = "down", true
	p := newPool(policy(RoundRobin), nodes)
	_, err := p.Pick("")
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "1 down, 2 draining") {
		t.Fatalf("Pick = %v, want ErrUnavailable naming 1 down, 2 draining", err)
	}
	if _, err := NewPool(DefaultPolicy(), 1).Pick(""); !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "no nodes") {
		t.Fatalf("empty pool: %v", err)
	}
}
