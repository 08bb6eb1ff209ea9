package reqstats

import "fmt"

// Totals sums windows' counts and merges their latency and TTFT sketches, leaving their
// breakdowns out, as MergeTotals does, into memory it keeps: a reader that totals every node,
// every pool and the fleet every step resets and reuses its Totals and allocates nothing once
// their sketches have grown. The zero value is empty and ready to use; a Totals must not be
// copied once used.
type Totals struct {
	w         Window // counts and bounds; its sketches stay nil
	lat, ttft Sketch
}

// Reset empties t, keeping its sketches' memory.
func (t *Totals) Reset() {
	t.w = Window{}
	t.lat.Reset()
	t.ttft.Reset()
}

// Add adds ws to t. It refuses a sketch of another relative accuracy than the ones t holds,
// and then leaves t as it was before that window.
func (t *Totals) Add(ws ...Window) error {
	for _, w := range ws {
		if err := t.add(w); err != nil {
			return err
		}
	}
	return nil
}

// AddTotals adds what o holds to t, as if every window added to o were added to t.
func (t *Totals) AddTotals(o *Totals) error {
	return t.add(o.Window())
}

// Window returns what t holds as a window without breakdowns, as MergeTotals would. Its
// Latency and TTFT are t's own sketches (nil while empty): they change with t's next Add or
// Reset, so a caller that keeps them clones them.
func (t *Totals) Window() Window {
	w := t.w
	if t.lat.count > 0 {
		w.Latency = &t.lat
	}
	if t.ttft.count > 0 {
		w.TTFT = &t.ttft
	}
	return w
}

func (t *Totals) add(w Window) error {
	if err := joinable(&t.lat, w.Latency); err != nil {
		return err
	}
	if err := joinable(&t.ttft, w.TTFT); err != nil {
		return err
	}
	if !w.Start.IsZero() && (t.w.Start.IsZero() || w.Start.Before(t.w.Start)) {
		t.w.Start = w.Start
	}
	if !w.End.IsZero() && (t.w.End.IsZero() || w.End.After(t.w.End)) {
		t.w.End = w.End
	}
	b, o := t.w.totals(), w.totals()
	o.Latency = nil
	b.merge(o)
	t.w.setTotals(b)
	join(&t.lat, w.Latency)
	join(&t.ttft, w.TTFT)
	return nil
}

// joinable reports whether src can be merged into acc: an empty acc takes any accuracy.
func joinable(acc, src *Sketch) error {
	if src == nil || src.count == 0 || acc.count == 0 || src.accuracy == acc.accuracy {
		return nil
	}
	return fmt.Errorf("%w: %g and %g", ErrAccuracyMismatch, acc.accuracy, src.accuracy)
}

// join merges src into acc, which takes src's accuracy while it is empty.
func join(acc, src *Sketch) {
	if src == nil || src.count == 0 {
		return
	}
	if acc.count == 0 {
		acc.mapping = src.mapping
	}
	acc.merge(src)
}
