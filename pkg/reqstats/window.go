package reqstats

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Names that breakdowns use for what has no name of its own.
const (
	// Unknown names the breakdown of events with an empty program or model.
	Unknown = "unknown"
	// Other names the breakdown that gathers every name past the top N, and names past
	// MaxNames or longer than MaxNameLen. A real program or model called "other" joins it.
	Other = "other"
)

// DefaultTopN is the number of named breakdowns kept when a topN below 1 is given.
const DefaultTopN = 10

// Breakdown is one model's or program's share of a window.
type Breakdown struct {
	Name         string
	Requests     uint64
	Errors       uint64
	InputTokens  uint64
	OutputTokens uint64
	CacheHits    uint64
	CacheMisses  uint64
	CostUSD      float64
	SavedUSD     float64
	Latency      *Sketch // milliseconds; nil when there is none
}

// Window is the aggregate of the events in [Start, End).
type Window struct {
	Start, End   time.Time
	Requests     uint64
	Errors       uint64
	InputTokens  uint64
	OutputTokens uint64
	CacheHits    uint64
	CacheMisses  uint64
	CostUSD      float64
	SavedUSD     float64
	Latency      *Sketch // milliseconds, every request
	TTFT         *Sketch // milliseconds, requests that reported a time to first token
	// Models and Programs are sorted by requests, most first, then by name; at most top N of
	// them, followed by one named Other when anything was left out.
	Models, Programs []Breakdown
}

// ErrorRate returns Errors/Requests, 0 for no requests.
func (w Window) ErrorRate() float64 { return ratio(w.Errors, w.Requests) }

// CacheHitRatio returns CacheHits/(CacheHits+CacheMisses): the share of requests with a known
// cache state that the cache answered; 0 when none had one.
func (w Window) CacheHitRatio() float64 { return ratio(w.CacheHits, w.CacheHits+w.CacheMisses) }

// RequestsPerSecond returns Requests over the window's length, 0 for an empty or inverted window.
func (w Window) RequestsPerSecond() float64 {
	d := w.End.Sub(w.Start)
	if d <= 0 {
		return 0
	}
	return float64(w.Requests) / d.Seconds()
}

func ratio(n, d uint64) float64 {
	if d == 0 {
		return 0
	}
	return float64(n) / float64(d)
}

// MergeWindows merges windows, such as the nodes of a pool or the minutes of an hour: counts
// and costs add, sketches merge, breakdowns merge by name and are cut again to topN (DefaultTopN
// when topN < 1) plus Other. Start is the earliest and End the latest, ignoring zero times. The
// inputs are not modified. It refuses sketches of different relative accuracy.
//
// A name that an input had already folded into Other stays there, so breakdowns are exact only
// when no input was cut; the totals are always exact.
func MergeWindows(topN int, ws ...Window) (Window, error) {
	return merge(topN, true, ws)
}

// MergeTotals merges windows as MergeWindows does but leaves their breakdowns out: the merged
// window has no Models or Programs. A reader that needs only the totals and the latency and
// TTFT sketches, of every node every step, is spared building and cutting the breakdowns.
func MergeTotals(ws ...Window) (Window, error) {
	return merge(0, false, ws)
}

// merge is MergeWindows, with the breakdowns only when breakdowns is set.
func merge(topN int, breakdowns bool, ws []Window) (Window, error) {
	var accuracy float64
	check := func(s *Sketch) error {
		switch {
		case s == nil:
		case accuracy == 0:
			accuracy = s.accuracy
		case s.accuracy != accuracy:
			return fmt.Errorf("%w: %g and %g", ErrAccuracyMismatch, accuracy, s.accuracy)
		}
		return nil
	}
	for _, w := range ws {
		for _, s := range []*Sketch{w.Latency, w.TTFT} {
			if err := check(s); err != nil {
				return Window{}, err
			}
		}
		if !breakdowns {
			continue
		}
		for _, b := range slices.Concat(w.Models, w.Programs) {
			if err := check(b.Latency); err != nil {
				return Window{}, fmt.Errorf("breakdown %q: %w", b.Name, err)
			}
		}
	}

	var out Window
	var total Breakdown
	models, programs := names{}, names{}
	for _, w := range ws {
		if !w.Start.IsZero() && (out.Start.IsZero() || w.Start.Before(out.Start)) {
			out.Start = w.Start
		}
		if !w.End.IsZero() && (out.End.IsZero() || w.End.After(out.End)) {
			out.End = w.End
		}
		total.merge(w.totals())
		out.TTFT = mergeSketch(out.TTFT, w.TTFT)
		if breakdowns {
			models.merge(w.Models)
			programs.merge(w.Programs)
		}
	}
	out.setTotals(total)
	if breakdowns {
		out.Models = cut(models.breakdowns(), topN)
		out.Programs = cut(programs.breakdowns(), topN)
	}
	return out, nil
}

// MergeLatency merges what ws count of every request, and nothing of their breakdowns: it
// returns the summed requests and errors and merges the latency sketches into acc, which it
// empties first (acc must not be nil; it takes the accuracy of the first sketch when its own
// differs). It refuses sketches of different relative accuracy, as MergeWindows does. A caller
// that needs these figures of every node every step reuses one acc and allocates nothing once
// acc has grown, where MergeWindows builds and cuts every breakdown.
func MergeLatency(acc *Sketch, ws ...Window) (requests, errors uint64, err error) {
	acc.Reset()
	first := true
	for _, w := range ws {
		requests += w.Requests
		errors += w.Errors
		s := w.Latency
		if s == nil {
			continue
		}
		switch {
		case first && s.accuracy != acc.accuracy:
			acc.mapping = s.mapping
		case s.accuracy != acc.accuracy:
			return 0, 0, fmt.Errorf("%w: %g and %g", ErrAccuracyMismatch, acc.accuracy, s.accuracy)
		}
		first = false
		acc.merge(s)
	}
	return requests, errors, nil
}

// totals returns the window's counts as a Breakdown.
func (w Window) totals() Breakdown {
	return Breakdown{
		Requests: w.Requests, Errors: w.Errors,
		InputTokens: w.InputTokens, OutputTokens: w.OutputTokens,
		CacheHits: w.CacheHits, CacheMisses: w.CacheMisses,
		CostUSD: w.CostUSD, SavedUSD: w.SavedUSD,
		Latency: w.Latency,
	}
}

// setTotals sets the window's counts from a Breakdown.
func (w *Window) setTotals(b Breakdown) {
	w.Requests, w.Errors = b.Requests, b.Errors
	w.InputTokens, w.OutputTokens = b.InputTokens, b.OutputTokens
	w.CacheHits, w.CacheMisses = b.CacheHits, b.CacheMisses
	w.CostUSD, w.SavedUSD = b.CostUSD, b.SavedUSD
	w.Latency = b.Latency
}

// record counts one event whose token counts, cost and saving are already worked out. The
// caller adds its latency.
func (b *Breakdown) record(e Event, in, out uint64, cost, saved float64) {
	b.Requests++
	if e.Error {
		b.Errors++
	}
	b.InputTokens += in
	b.OutputTokens += out
	switch e.Cache {
	case CacheHit:
		b.CacheHits++
	case CacheMiss:
		b.CacheMisses++
	}
	b.CostUSD += cost
	b.SavedUSD += saved
}

// merge adds o to b. b's sketch is cloned from o's when b has none, so o is never shared;
// the sketches must share an accuracy.
func (b *Breakdown) merge(o Breakdown) {
	b.Requests += o.Requests
	b.Errors += o.Errors
	b.InputTokens += o.InputTokens
	b.OutputTokens += o.OutputTokens
	b.CacheHits += o.CacheHits
	b.CacheMisses += o.CacheMisses
	b.CostUSD += o.CostUSD
	b.SavedUSD += o.SavedUSD
	b.Latency = mergeSketch(b.Latency, o.Latency)
}

// mergeSketch merges src into dst, cloning src when dst is nil; both must share an accuracy.
func mergeSketch(dst, src *Sketch) *Sketch {
	switch {
	case src == nil:
		return dst
	case dst == nil:
		return src.Clone()
	}
	dst.merge(src)
	return dst
}

// names maps a program's or model's name to its share of a window.
type names map[string]*Breakdown

// merge merges breakdowns into n by name, an empty name counting as Unknown.
func (n names) merge(bs []Breakdown) {
	for _, b := range bs {
		name := cmp.Or(b.Name, Unknown)
		acc, ok := n[name]
		if !ok {
			acc = &Breakdown{Name: name}
			n[name] = acc
		}
		acc.merge(b)
	}
}

// breakdowns returns the breakdowns of n in no particular order.
func (n names) breakdowns() []Breakdown {
	bs := make([]Breakdown, 0, len(n))
	for _, b := range n {
		bs = append(bs, *b)
	}
	return bs
}

// cut sorts breakdowns by requests, most first, then by name, keeps topN (DefaultTopN when
// topN < 1) and folds the rest, with any breakdown named Other, into one Other placed last.
// Names must be distinct and sketches must share an accuracy. It reuses bs.
func cut(bs []Breakdown, topN int) []Breakdown {
	if topN < 1 {
		topN = DefaultTopN
	}
	other := Breakdown{Name: Other}
	hasOther := false
	bs = slices.DeleteFunc(bs, func(b Breakdown) bool {
		if b.Name != Other {
			return false
		}
		other.merge(b)
		hasOther = true
		return true
	})
	slices.SortFunc(bs, func(x, y Breakdown) int {
		return cmp.Or(cmp.Compare(y.Requests, x.Requests), strings.Compare(x.Name, y.Name))
	})
	if len(bs) > topN {
		for _, b := range bs[topN:] {
			other.merge(b)
		}
		clear(bs[topN:]) // drop the folded sketches
		bs = bs[:topN]
		hasOther = true
	}
	if hasOther {
		bs = append(bs, other)
	}
	return bs
}
