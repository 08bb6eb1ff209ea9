package reqstats

import (
	"cmp"
	"maps"
	"strings"
	"sync"
	"time"
)

// MaxNames bounds the distinct programs, and separately the distinct models, an Aggregator
// tracks per window. Events with further names count under Other, so hostile input cannot grow
// memory.
const MaxNames = 1000

// Aggregator accumulates events into the current window. It is safe for concurrent use (one
// mutex), and Add does not allocate once a window has seen an event's model and program and
// its latency range.
type Aggregator struct {
	prices  Prices  // a private copy: never written
	mapping mapping // the sketches' accuracy and buckets
	topN    int

	mu       sync.Mutex
	start    time.Time
	total    Breakdown // the window's counts and latency
	ttft     *Sketch
	models   names
	programs names
	// misses are the priced requests that were not cache hits, since the aggregator started,
	// by program and model and by model alone: what a hit that reports no tokens saved is
	// estimated from. tokenless are this window's such hits, priced at Flush.
	misses    map[pairKey]*missCost
	tokenless map[pairKey]*tokenlessHits
}

// pairKey names one program's requests to one model, as the breakdowns name them; an empty
// program stands for the model alone.
type pairKey struct{ program, model string }

// missCost sums the list price of requests that were not hits.
type missCost struct {
	requests uint64
	usd      float64
}

// tokenlessHits counts one window's cache hits of a priced model that reported no tokens, and
// the breakdowns they were counted in.
type tokenlessHits struct {
	hits           uint64
	model, program *Breakdown
}

// maxPairs bounds the program and model pairs whose miss cost an Aggregator keeps; past it, a
// hit saves its model's average.
const maxPairs = 4 * MaxNames

// NewAggregator returns an aggregator whose first window starts at start. It prices events with
// a copy of prices, builds sketches of the given relative accuracy (see NewSketch) and keeps topN
// named breakdowns per dimension (DefaultTopN when topN < 1).
func NewAggregator(prices Prices, relativeAccuracy float64, topN int, start time.Time) *Aggregator {
	a := &Aggregator{
		prices:    maps.Clone(prices),
		mapping:   NewSketch(relativeAccuracy).mapping,
		topN:      topN,
		models:    names{},
		programs:  names{},
		misses:    map[pairKey]*missCost{},
		tokenless: map[pairKey]*tokenlessHits{},
	}
	a.reset(start)
	return a
}

// reset starts an empty window at start.
func (a *Aggregator) reset(start time.Time) {
	a.start = start
	a.total = Breakdown{Latency: NewSketch(a.mapping.accuracy)}
	a.ttft = NewSketch(a.mapping.accuracy)
	clear(a.models)
	clear(a.programs)
	clear(a.tokenless)
}

// Add counts one event in the current window, whatever its Time. Callers validate events with
// Check; Add still counts negative tokens as 0 and leaves negative durations out of the sketches.
// An empty program or model counts as Unknown.
func (a *Aggregator) Add(e Event) {
	cost, saved := a.prices.costs(e)
	in, out := tokens(e.InputTokens), tokens(e.OutputTokens)
	// Find the buckets before locking: the logarithms are most of the work.
	latency, ttft := millis(e.Latency), millis(e.TTFT)
	lk, lzero := a.mapping.bin(latency)
	tk, tzero := a.mapping.bin(ttft)

	a.mu.Lock()
	defer a.mu.Unlock()
	m := a.models.get(e.Model, a.mapping.accuracy)
	p := a.programs.get(e.Program, a.mapping.accuracy)
	for _, b := range []*Breakdown{&a.total, m, p} {
		b.record(e, in, out, cost, saved)
		if e.Latency >= 0 {
			b.Latency.addAt(latency, lk, lzero, 1)
		}
	}
	if e.TTFT > 0 {
		a.ttft.addAt(ttft, tk, tzero, 1)
	}
	if _, priced := a.prices[e.Model]; priced {
		a.learnSaving(e, in+out, cost, m, p)
	}
}

// learnSaving keeps what a priced event tells about savings: a request that was not a hit adds
// its cost to its program's and model's miss averages; a hit that reported no tokens waits for
// Flush to be priced at them. A hit that reported its tokens was priced by them in Add.
func (a *Aggregator) learnSaving(e Event, tokens uint64, cost float64, m, p *Breakdown) {
	pair, model := pairKey{p.Name, m.Name}, pairKey{model: m.Name}
	switch {
	case e.Cache != CacheHit:
		if tokens == 0 {
			return
		}
		for _, k := range []pairKey{pair, model} {
			mc := a.misses[k]
			if mc == nil {
				if len(a.misses) >= maxPairs {
					continue
				}
				mc = &missCost{}
				a.misses[k] = mc
			}
			mc.requests++
			mc.usd += cost
		}
	case tokens == 0:
		th := a.tokenless[pair]
		if th == nil {
			th = &tokenlessHits{model: m, program: p}
			a.tokenless[pair] = th
		}
		th.hits++
	}
}

// priceTokenless adds the window's savings of hits that reported no tokens: each saved the
// average cost of its program's requests to the model that were not hits (this window's and
// every earlier one's), or of the model's when the program had none, or nothing yet.
func (a *Aggregator) priceTokenless() {
	for k, th := range a.tokenless {
		mc := a.misses[k]
		if mc == nil || mc.requests == 0 {
			mc = a.misses[pairKey{model: k.model}]
		}
		if mc == nil || mc.requests == 0 {
			continue
		}
		saved := mc.usd / float64(mc.requests) * float64(th.hits)
		for _, b := range []*Breakdown{&a.total, th.model, th.program} {
			b.SavedUSD += saved
		}
	}
}

// Flush returns the window [start, now) and starts a new, empty one at now. The returned window
// and its sketches belong to the caller.
func (a *Aggregator) Flush(now time.Time) Window {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.priceTokenless()
	w := Window{Start: a.start, End: now, TTFT: a.ttft}
	w.setTotals(a.total)
	w.Models = cut(a.models.breakdowns(), a.topN)
	w.Programs = cut(a.programs.breakdowns(), a.topN)
	a.reset(now)
	return w
}

// get returns the breakdown for name, adding it when there is room: an empty name is Unknown,
// and a name past MaxNames or longer than MaxNameLen is Other.
func (n names) get(name string, accuracy float64) *Breakdown {
	name = cmp.Or(name, Unknown)
	if b, ok := n[name]; ok {
		return b
	}
	if len(n) >= MaxNames || len(name) > MaxNameLen {
		name = Other
		if b, ok := n[name]; ok {
			return b
		}
	}
	// Clone: the event's string may pin a whole request body.
	b := &Breakdown{Name: strings.Clone(name), Latency: NewSketch(accuracy)}
	n[b.Name] = b
	return b
}

// millis converts a duration to milliseconds.
func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
