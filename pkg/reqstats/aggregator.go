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
}

// NewAggregator returns an aggregator whose first window starts at start. It prices events with
// a copy of prices, builds sketches of the given relative accuracy (see NewSketch) and keeps topN
// named breakdowns per dimension (DefaultTopN when topN < 1).
func NewAggregator(prices Prices, relativeAccuracy float64, topN int, start time.Time) *Aggregator {
	a := &Aggregator{
		prices:   maps.Clone(prices),
		mapping:  NewSketch(relativeAccuracy).mapping,
		topN:     topN,
		models:   names{},
		programs: names{},
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
}

// Flush returns the window [start, now) and starts a new, empty one at now. The returned window
// and its sketches belong to the caller.
func (a *Aggregator) Flush(now time.Time) Window {
	a.mu.Lock()
	defer a.mu.Unlock()
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
