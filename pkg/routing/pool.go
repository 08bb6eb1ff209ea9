package routing

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// ErrUnavailable marks a pool with no node to pick; the error says why.
var ErrUnavailable = errors.New("no eligible node")

// ErrUnknownNode marks a result for a node the pool no longer holds.
var ErrUnknownNode = errors.New("node is not in the pool")

// ewmaAlpha is the weight of a new latency or error sample in the moving averages.
const ewmaAlpha = 0.2

// resultDecay is the time constant with which the client results' moving averages fade as they
// age (weight e^(-age/resultDecay)), giving way to the agent's figures, or to "unknown" where
// the agent has none: a node that was slow once is not judged on it for good (Finagle's and
// Linkerd's peak EWMA decay the same way).
const resultDecay = 10 * time.Second

// probeInterval is how long the two-choices strategies may leave a routing-set node without a
// pick while the pool is picking others before it gets one probe request.
const probeInterval = 10 * time.Second

// minSlowStart is the weight factor a node starts slow start with.
const minSlowStart = 0.1

// endpoint is a node and routing's state about it.
type endpoint struct {
	Node

	// In-flight accounting: load = reported + outstanding. A new report starts a new epoch,
	// replacing reported and forgetting outstanding picks, which the report now counts.
	epoch       uint32
	reported    int64
	outstanding int64

	readySince   time.Time // when the node last became ready or came back from ejection
	ejectedUntil time.Time // zero when not ejected
	ejections    int       // ejection multiplier
	ejectReason  string
	consecErrors int
	intOK        uint64 // results in the current judging interval
	intErr       uint64
	haveResults  bool
	resultAt     time.Time // when the last client result arrived
	ewmaLatency  float64   // seconds
	ewmaErrors   float64
	lat, errs    float64 // the estimates routing uses, as of the last refresh or result

	picks    uint64    // picks handed out to this node, ever
	seen     uint64    // picks as of pickedAt
	pickedAt time.Time // when a refresh last saw picks go to the node (or first saw it)

	eligible bool
	reason   string
	factor   float64 // slow start, minSlowStart..1
	cand     int     // position in Pool.cands, or -1
}

func (e *endpoint) load() int64 { return e.reported + e.outstanding }

func (e *endpoint) ejected() bool { return !e.ejectedUntil.IsZero() }

func (e *endpoint) weight() float64 {
	switch {
	case e.Weight <= 0 || math.IsNaN(e.Weight):
		return 1
	case e.Weight > maxWeight:
		return maxWeight
	case e.Weight < minWeight:
		return minWeight
	}
	return e.Weight
}

// The range weights are clamped to, so smooth weighted round robin works in exact integers.
const (
	minWeight = 0.001
	maxWeight = 1000
)

// Pool routes one pool's requests. Its methods are not safe for concurrent use.
type Pool struct {
	policy Policy
	rng    *rand.Rand

	eps   []*endpoint // sorted by id
	byID  map[string]*endpoint
	cands []*endpoint // the routing set: eligible nodes, or every ready node in panic mode

	panic       bool
	panicReason string
	healthy     int
	counted     int
	unavailable error
	lastJudged  time.Time
	version     uint64
	sig         []uint64 // the routing set's signature, to tell when it changed

	totalLoad   int64
	meanLatency float64
	meanWeight  float64

	picks    uint64      // picks handed out, ever
	seen     uint64      // picks as of pickedAt
	pickedAt time.Time   // when a refresh last saw the pool pick
	probes   []*endpoint // starved nodes owed one pick each

	rr   uint64
	edf  edf
	lc   buckets
	ring ring
}

// NewPool returns an empty pool with policy p, which must be valid; seed makes random choices
// reproducible.
func NewPool(p Policy, seed uint64) *Pool {
	pl := &Pool{policy: p, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), byID: make(map[string]*endpoint)}
	pl.unavailable = fmt.Errorf("%w: the pool has no nodes", ErrUnavailable)
	return pl
}

// Policy returns the pool's policy.
func (p *Pool) Policy() Policy { return p.policy }

// SetPolicy replaces the pool's policy (already validated) and rebuilds the routing set.
func (p *Pool) SetPolicy(policy Policy, now time.Time) {
	p.policy = policy
	p.sig = nil
	p.refresh(now)
}

// Version changes whenever the routing set or its weights change.
func (p *Pool) Version() uint64 { return p.version }

// Update replaces the pool's nodes with nodes, judges outliers when the interval has passed,
// ends ejections that are over and ramps slow start. It returns true when the routing set or
// its weights changed.
func (p *Pool) Update(nodes []Node, now time.Time) bool {
	eps := make([]*endpoint, 0, len(nodes))
	seen := make(map[string]*endpoint, len(nodes))
	for _, n := range nodes {
		if _, dup := seen[n.ID]; dup {
			continue
		}
		e := p.byID[n.ID]
		if e == nil {
			e = &endpoint{cand: -1, factor: 1}
		}
		if e.ID != "" && n.Session != 0 && n.Session != e.Session {
			e.forgetResults() // a new agent session: what clients saw of the old one is stale
		}
		if e.ReportSeq != n.ReportSeq || e.ID == "" {
			e.epoch++
			e.reported = int64(n.InFlight)
			e.outstanding = 0
		}
		if n.Ready && !e.Ready {
			e.readySince = now
		}
		e.Node = n
		seen[n.ID] = e
		eps = append(eps, e)
	}
	slices.SortFunc(eps, func(a, b *endpoint) int { return strings.Compare(a.ID, b.ID) })
	p.eps, p.byID = eps, seen
	return p.refresh(now)
}

// refresh recomputes eligibility, panic mode, weights and the strategy's structures; it returns
// true when the routing set or its weights changed.
func (p *Pool) refresh(now time.Time) bool {
	if p.lastJudged.IsZero() {
		p.lastJudged = now
	}
	if now.Sub(p.lastJudged) >= p.policy.Outlier.Interval {
		p.judge(now)
		p.lastJudged = now
	}
	p.healthy, p.counted = 0, 0
	for _, e := range p.eps {
		if e.ejected() && !now.Before(e.ejectedUntil) {
			e.ejectedUntil = time.Time{}
			e.ejectReason = ""
			e.consecErrors = 0
			e.readySince = now
		}
		e.factor = p.slowStart(e, now)
		e.eligible, e.reason = false, ""
		switch {
		case !e.Ready:
			e.reason = "node is " + e.State
		case e.Address == "":
			e.reason = "no serving address (set the agent's --advertise-addr or --proxy-listen)"
		case e.ejected():
			e.reason = "ejected: " + e.ejectReason
		default:
			e.eligible = true
			p.healthy++
			if e.factor < 1 {
				e.reason = fmt.Sprintf("slow start: weight at %.0f%%", e.factor*100)
			}
		}
		if e.Counted && e.Address != "" {
			p.counted++ // a node without an address is no routing target, so no part of the pool's size
		}
	}
	p.panic = p.policy.PanicThreshold > 0 && p.counted > 0 &&
		float64(p.healthy) < p.policy.PanicThreshold*float64(p.counted)
	p.panicReason = ""
	if p.panic {
		p.panicReason = fmt.Sprintf("panic mode: %d of %d nodes healthy, under the %.0f%% threshold; spreading over every ready node",
			p.healthy, p.counted, p.policy.PanicThreshold*100)
	}
	p.cands = p.cands[:0]
	for _, e := range p.eps {
		e.cand = -1
		if e.eligible || (p.panic && e.Ready && e.Address != "") {
			e.cand = len(p.cands)
			p.cands = append(p.cands, e)
		}
	}
	p.unavailable = nil
	if len(p.cands) == 0 {
		p.unavailable = fmt.Errorf("%w: %s", ErrUnavailable, p.why())
	}
	p.totalLoad, p.meanLatency, p.meanWeight = 0, 0, 0
	for _, e := range p.eps {
		e.estimate(now)
	}
	p.findStarved(now)
	for _, e := range p.cands {
		p.totalLoad += e.load()
		p.meanLatency += e.lat
		p.meanWeight += e.weight()
	}
	if n := float64(len(p.cands)); n > 0 {
		p.meanLatency /= n
		p.meanWeight /= n
	}
	sig := p.signature()
	if slices.Equal(sig, p.sig) {
		if p.policy.Strategy == LeastConnections {
			p.lc.build(p.cands) // reports changed the loads
		}
		return false
	}
	p.sig = sig
	p.version++
	p.rebuild()
	return true
}

// why summarizes the nodes' states for a pool with nothing to pick.
func (p *Pool) why() string {
	if len(p.eps) == 0 {
		return "the pool has no nodes"
	}
	counts := map[string]int{}
	for _, e := range p.eps {
		r := e.State
		switch {
		case e.Ready && e.Address == "":
			r = "without a serving address"
		case e.Ready && e.ejected():
			r = "ejected"
		}
		counts[r]++
	}
	parts := make([]string, 0, len(counts))
	for _, r := range slices.Sorted(func(yield func(string) bool) {
		for r := range counts {
			if !yield(r) {
				return
			}
		}
	}) {
		parts = append(parts, fmt.Sprintf("%d %s", counts[r], r))
	}
	return strings.Join(parts, ", ")
}

// signature identifies the routing set and its quantized weights.
func (p *Pool) signature() []uint64 {
	sig := make([]uint64, 0, 2*len(p.cands)+1)
	if p.panic {
		sig = append(sig, 1)
	} else {
		sig = append(sig, 0)
	}
	for _, e := range p.cands {
		sig = append(sig, fnv64(e.ID)^fnv64(e.Address), uint64(quantize(e.weight()*e.factor)))
	}
	return sig
}

// slowStart returns e's weight factor at now.
func (p *Pool) slowStart(e *endpoint, now time.Time) float64 {
	w := p.policy.SlowStart
	if w <= 0 || e.readySince.IsZero() {
		return 1
	}
	f := float64(now.Sub(e.readySince)) / float64(w)
	return min(1, max(minSlowStart, f))
}

// estimate sets the latency (seconds, zero when unknown) and error rate routing uses for e at
// now: the client results' moving averages weighted by how fresh they are, the agent's p95 and
// error rate taking the rest of the weight (or nothing, where the agent has no figures).
func (e *endpoint) estimate(now time.Time) {
	w := 0.0
	if e.haveResults {
		w = 1
		if age := now.Sub(e.resultAt); age > 0 {
			w = math.Exp(-float64(age) / float64(resultDecay))
		}
	}
	e.lat, e.errs = w*e.ewmaLatency, w*e.ewmaErrors
	e.lat += (1 - w) * e.Latency.Seconds()
	if e.Requests > 0 {
		e.errs += (1 - w) * float64(e.Errors) / float64(e.Requests)
	}
}

// forgetResults drops the client results' moving averages.
func (e *endpoint) forgetResults() {
	e.haveResults, e.ewmaLatency, e.ewmaErrors, e.resultAt = false, 0, 0, time.Time{}
}

// findStarved queues one probe pick for each routing-set node the two-choices strategies left
// without a pick for probeInterval while the pool kept picking: its estimate can only change
// with traffic, so a node that lost every comparison would otherwise never be seen again.
func (p *Pool) findStarved(now time.Time) {
	p.probes = p.probes[:0]
	if p.picks != p.seen || p.pickedAt.IsZero() {
		p.seen, p.pickedAt = p.picks, now
	}
	twoChoices := p.policy.Strategy == LeastLatency || p.policy.Strategy == Intelligent
	for _, e := range p.eps {
		if e.picks != e.seen || e.pickedAt.IsZero() {
			e.seen, e.pickedAt = e.picks, now
			continue
		}
		if twoChoices && e.cand >= 0 && len(p.cands) > 1 && p.pickedAt.Sub(e.pickedAt) >= probeInterval {
			p.probes = append(p.probes, e)
			e.pickedAt = now // the next probe waits another interval
		}
	}
}

// rebuild builds the strategy's structure over the routing set.
func (p *Pool) rebuild() {
	switch p.policy.Strategy {
	case WeightedRoundRobin:
		p.edf.build(p.cands)
	case LeastConnections:
		p.lc.build(p.cands)
	case ConsistentHash:
		p.ring.build(p.cands, p.meanWeight)
	}
}

// Unavailable returns why nothing can be picked (an error wrapping ErrUnavailable), or nil.
func (p *Pool) Unavailable() error {
	if len(p.cands) > 0 {
		return nil
	}
	return p.unavailable
}

// Pick chooses a node for a request; key matters to consistent hashing only, where an empty key
// lands at a random place on the ring. It returns an
// error wrapping ErrUnavailable, with the reason, when no node can be picked.
func (p *Pool) Pick(key string) (Pick, error) {
	n := len(p.cands)
	if n == 0 {
		return Pick{}, p.unavailable
	}
	var e *endpoint
	for e == nil && len(p.probes) > 0 {
		e = p.probes[len(p.probes)-1]
		p.probes = p.probes[:len(p.probes)-1]
		if e.cand < 0 {
			e = nil
		}
	}
	switch {
	case e != nil:
	case p.policy.Strategy == WeightedRoundRobin:
		e = p.cands[p.edf.next()]
	case p.policy.Strategy == LeastConnections:
		e = p.cands[p.lc.min(p.rng)]
	case p.policy.Strategy == LeastLatency:
		e = p.twoChoices(Weights{Latency: 1, Errors: 1})
	case p.policy.Strategy == Intelligent:
		e = p.twoChoices(p.policy.Weights)
	case p.policy.Strategy == ConsistentHash:
		h := p.rng.Uint64()
		if key != "" {
			h = keyHash(key)
		}
		e = p.cands[p.ring.lookup(h, p.cands, p.boundPerWeight())]
	default:
		p.rr++
		e = p.cands[p.rr%uint64(n)]
	}
	p.picks++
	e.picks++
	p.addLoad(e, 1)
	return Pick{ID: e.ID, Address: e.Address, Epoch: e.epoch, Panic: p.panic}, nil
}

// addLoad changes e's outstanding picks by d.
func (p *Pool) addLoad(e *endpoint, d int64) {
	e.outstanding += d
	if e.cand < 0 {
		return
	}
	p.totalLoad += d
	if p.policy.Strategy == LeastConnections {
		p.lc.moved(e.cand, e.load())
	}
}

// boundPerWeight is the in-flight load consistent hashing lets a node take for the next pick,
// per unit of weight: a node of weight w takes at most ceil(w × this), that is
// ceil((1+ε) × (total+1) × w / Σw), its weighted share of the load. A bound equal for every
// node would spill a heavy node's keys at low concurrency, although its weight gives it a
// larger part of the ring.
func (p *Pool) boundPerWeight() float64 {
	return float64(p.totalLoad+1) * (1 + p.policy.LoadFactor) / (p.meanWeight * float64(len(p.cands)))
}

// twoChoices picks two distinct random nodes and returns the one with the lower score.
func (p *Pool) twoChoices(w Weights) *endpoint {
	n := len(p.cands)
	if n == 1 {
		return p.cands[0]
	}
	i := p.rng.IntN(n)
	j := p.rng.IntN(n - 1)
	if j >= i {
		j++
	}
	a, b := p.cands[i], p.cands[j]
	if p.score(b, w) < p.score(a, w) {
		return b
	}
	return a
}

// score is a node's cost for the multi-factor strategies; lower is better. Each term is about 1
// for a typical node; slow start divides the score by the node's weight factor.
func (p *Pool) score(e *endpoint, w Weights) float64 {
	var s float64
	if w.Latency > 0 {
		lat := e.lat
		if p.meanLatency > 0 && lat > 0 {
			s += w.Latency * lat / p.meanLatency
		} else {
			s += w.Latency
		}
	}
	if w.Errors > 0 {
		s += w.Errors * e.errs * 10
	}
	if w.InFlight > 0 {
		mean := float64(p.totalLoad)/float64(len(p.cands)) + 1
		s += w.InFlight * (float64(e.load()) + 1) / (e.weight() / p.meanWeight) / mean
	}
	if w.CPU > 0 {
		s += w.CPU * e.CPU / 100
	}
	return s / e.factor
}

// Result records the outcome of a request picked with Pick: it settles the node's in-flight
// count, feeds latency and error averages and ejects the node after too many consecutive
// errors. It returns true when the routing set changed.
func (p *Pool) Result(id string, epoch uint32, latency time.Duration, ok bool, now time.Time) (bool, error) {
	e := p.byID[id]
	if e == nil {
		return false, fmt.Errorf("%w: %q", ErrUnknownNode, id)
	}
	switch {
	case epoch == e.epoch && e.outstanding > 0:
		p.addLoad(e, -1)
	case epoch != e.epoch && e.reported > 0:
		// The pick predates the last report, which counted it as in flight.
		e.reported--
		if e.cand >= 0 {
			p.totalLoad--
			if p.policy.Strategy == LeastConnections {
				p.lc.moved(e.cand, e.load())
			}
		}
	}
	sample := 0.0
	if !ok {
		sample = 1
	}
	if e.haveResults && now.Sub(e.resultAt) < 3*resultDecay {
		e.estimate(now) // blend the aged averages with the agent's figures first
		e.ewmaLatency = e.lat + ewmaAlpha*(latency.Seconds()-e.lat)
		e.ewmaErrors = e.errs + ewmaAlpha*(sample-e.errs)
	} else {
		e.haveResults, e.ewmaLatency, e.ewmaErrors = true, latency.Seconds(), sample
	}
	e.resultAt = now
	e.estimate(now)
	if ok {
		e.intOK++
		e.consecErrors = 0
		return false, nil
	}
	e.intErr++
	e.consecErrors++
	if c := p.policy.Outlier.ConsecutiveErrors; c > 0 && e.consecErrors >= c && !e.ejected() {
		if p.eject(e, fmt.Sprintf("%d consecutive errors", e.consecErrors), now) {
			return p.refresh(now), nil
		}
	}
	return false, nil
}

// Endpoints returns the routing set with effective weights, sorted by id.
func (p *Pool) Endpoints() ([]Endpoint, bool) {
	out := make([]Endpoint, len(p.cands))
	for i, e := range p.cands {
		out[i] = Endpoint{ID: e.ID, Address: e.Address, Weight: e.weight() * e.factor}
	}
	return out, p.panic
}

// Status explains every node's place in routing.
func (p *Pool) Status() Status {
	st := Status{Strategy: p.policy.Strategy, Panic: p.panic, PanicReason: p.panicReason,
		Healthy: p.healthy, Counted: p.counted, Version: p.version}
	for _, e := range p.eps {
		reason := e.reason
		if p.panic && e.cand >= 0 && !e.eligible {
			reason += " (picked anyway: panic mode)"
		}
		st.Nodes = append(st.Nodes, NodeStatus{
			ID: e.ID, Address: e.Address, State: e.State, Eligible: e.cand >= 0, Reason: reason,
			Weight: e.weight(), EffectiveWeight: e.weight() * e.factor, InFlight: e.load(),
			Ejected: e.ejected(), EjectedUntil: e.ejectedUntil, Ejections: e.ejections,
			Latency: time.Duration(e.lat * float64(time.Second)), ErrorRate: e.errs,
		})
	}
	return st
}
