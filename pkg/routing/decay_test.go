package routing

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// drive runs the pool for secs seconds from start: each second an Update (as the reconcile step
// does) and picksPerSec picks, each settled with latency(id). It returns the picks per node in
// the last lastSecs seconds.
func drive(t *testing.T, p *Pool, nodes []Node, start time.Time, secs, picksPerSec, lastSecs int, latency func(id string) time.Duration) map[string]int {
	t.Helper()
	seen := map[string]int{}
	for s := range secs {
		now := start.Add(time.Duration(s) * time.Second)
		p.Update(nodes, now)
		for range picksPerSec {
			pk := mustPick(p, "")
			if s >= secs-lastSecs {
				seen[pk.ID]++
			}
			if _, err := p.Result(pk.ID, pk.Epoch, latency(pk.ID), true, now); err != nil {
				t.Fatal(err)
			}
		}
	}
	return seen
}

func TestTwoChoicesForgiveASlowNodeThatRecovered(t *testing.T) {
	for _, s := range []Strategy{LeastLatency, Intelligent} {
		t.Run(s.String(), func(t *testing.T) {
			nodes := readyNodes(4)
			p := newPool(policy(s), nodes)
			slow := true
			lat := func(id string) time.Duration {
				if id == "n00" && slow {
					return 426600 * time.Microsecond
				}
				return 20 * time.Millisecond
			}
			// n00 is slow for a minute and loses nearly every comparison.
			if seen := drive(t, p, nodes, t0, 60, 100, 30, lat); seen["n00"] > 30 {
				t.Fatalf("slow n00 got %d of 3000 picks", seen["n00"])
			}
			// It recovers: within two minutes it is back to about its share (uniform is 25 %).
			slow = false
			seen := drive(t, p, nodes, t0.Add(time.Minute), 120, 100, 30, lat)
			if share := float64(seen["n00"]) / 3000; share < 0.15 {
				t.Errorf("recovered n00 got %.1f%% of the last 3000 picks: %v", share*100, seen)
			}
			if got := p.Status().Nodes[0].Latency; got > 40*time.Millisecond {
				t.Errorf("route status still shows n00 at %s", got)
			}
		})
	}
}

func TestTwoChoicesProbeAStarvedNode(t *testing.T) {
	nodes := readyNodes(4)
	for i := range nodes {
		nodes[i].Latency, nodes[i].Requests = 20*time.Millisecond, 100
	}
	nodes[0].Latency = 50 * time.Millisecond // the agent keeps reporting it slower, not enough to eject
	p := newPool(policy(LeastLatency), nodes)
	lat := func(id string) time.Duration {
		if id == "n00" {
			return 50 * time.Millisecond
		}
		return 20 * time.Millisecond
	}
	seen := drive(t, p, nodes, t0, 120, 100, 100, lat)
	// One probe per 10 s of starvation: a handful of picks, not a share.
	if seen["n00"] < 5 || seen["n00"] > 20 {
		t.Errorf("starved n00 got %d of 10000 picks in 100 s, want one probe about every %s", seen["n00"], probeInterval)
	}
	// An idle pool probes nothing (beyond a probe owed from before).
	p.Update(nodes, t0.Add(10*time.Minute))
	p.Update(nodes, t0.Add(20*time.Minute))
	if len(p.probes) != 0 {
		t.Errorf("%d probes queued after ten idle minutes", len(p.probes))
	}
}

func TestReconnectForgetsClientResults(t *testing.T) {
	nodes := readyNodes(2)
	nodes[0].Session, nodes[1].Session = 1, 2
	nodes[0].Latency = 30 * time.Millisecond
	p := newPool(policy(LeastLatency), nodes)
	pk := Pick{ID: "n00", Epoch: p.byID["n00"].epoch}
	if _, err := p.Result(pk.ID, pk.Epoch, 3*time.Second, false, t0); err != nil {
		t.Fatal(err)
	}
	if st := p.Status().Nodes[0]; st.Latency != 3*time.Second || st.ErrorRate != 1 {
		t.Fatalf("after a slow failure n00 shows %s, %.2f errors", st.Latency, st.ErrorRate)
	}
	p.Update(nodes, t0) // same session: kept
	if st := p.Status().Nodes[0]; st.Latency != 3*time.Second {
		t.Fatalf("same session: n00 shows %s, want the result kept", st.Latency)
	}
	nodes[0].Session = 7 // the agent reconnected
	p.Update(nodes, t0)
	if st := p.Status().Nodes[0]; st.Latency != 30*time.Millisecond || st.ErrorRate != 0 {
		t.Errorf("after a reconnect n00 shows %s, %.2f errors; want the agent's 30ms, 0", st.Latency, st.ErrorRate)
	}
}

// awayShare is the share of picks that left their key's node (the one it maps to with no load)
// over 500 rounds of 8 requests in flight at once for random keys of 64.
func awayShare(t *testing.T, weights []float64) float64 {
	t.Helper()
	nodes := readyNodes(len(weights))
	for i, w := range weights {
		nodes[i].Weight = w
	}
	p := newPool(policy(ConsistentHash), nodes)
	keys := make([]string, 64)
	for i := range keys {
		keys[i] = fmt.Sprintf("program/prompt-%d", i)
	}
	home := hashOwners(p, keys)
	rng := rand.New(rand.NewPCG(7, 7))
	var picks, away int
	for range 500 {
		var held []Pick
		for _, i := range rng.Perm(len(keys))[:8] {
			pk := mustPick(p, keys[i])
			held = append(held, pk)
			picks++
			if pk.ID != home[keys[i]] {
				away++
			}
		}
		for _, pk := range held {
			if _, err := p.Result(pk.ID, pk.Epoch, time.Millisecond, true, t0); err != nil {
				t.Fatal(err)
			}
		}
	}
	return float64(away) / float64(picks)
}

// TestConsistentHashBoundRespectsWeights: at low concurrency the bound moves some keys off
// their node in any pool; a heavy node must not lose more of its keys than that because its
// bound ignored its weight (an equal bound for every node spilled 40 % of picks at 4:1:1:1).
func TestConsistentHashBoundRespectsWeights(t *testing.T) {
	equal := awayShare(t, []float64{1, 1, 1, 1})
	weighted := awayShare(t, []float64{4, 1, 1, 1})
	if weighted > equal+0.02 {
		t.Errorf("%.1f%% of picks left their key's node at 8 in flight over weights 4:1:1:1, %.1f%% over equal weights",
			weighted*100, equal*100)
	}
}
