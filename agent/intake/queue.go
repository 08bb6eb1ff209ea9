package intake

import (
	"sync"

	"github.com/dspyfleet/dspyfleet/pkg/reqstats"
)

// queue holds accepted events until the drainer hands them to the sink. It counts an event from
// push until the sink has taken it, so at most size events wait, and a batch goes in whole or
// not at all. Two slices trade places between producers and the drainer, so a steady flow
// allocates nothing.
type queue struct {
	size  int
	ready chan struct{} // holds a token while pending is non-empty

	mu      sync.Mutex
	pending []reqstats.Event
	held    int // events the drainer has taken and not yet delivered
}

// newQueue returns a queue for size events.
func newQueue(size int) *queue {
	return &queue{size: size, ready: make(chan struct{}, 1)}
}

// push adds every event or, when they do not all fit, none; it never blocks.
func (q *queue) push(events []reqstats.Event) bool {
	q.mu.Lock()
	if len(q.pending)+q.held+len(events) > q.size {
		q.mu.Unlock()
		return false
	}
	q.pending = append(q.pending, events...)
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
	return true
}

// run delivers events to sink as they arrive until stop closes, then delivers what is left.
func (q *queue) run(stop <-chan struct{}, sink Sink) {
	var spare []reqstats.Event
	for {
		select {
		case <-q.ready:
			spare = q.deliver(sink, spare)
		case <-stop:
			q.deliver(sink, spare)
			return
		}
	}
}

// deliver hands every pending event to sink and returns the emptied slice for reuse.
func (q *queue) deliver(sink Sink, spare []reqstats.Event) []reqstats.Event {
	q.mu.Lock()
	events := q.pending
	q.pending = spare[:0]
	q.held = len(events)
	q.mu.Unlock()
	for _, e := range events {
		sink.Add(e)
	}
	clear(events) // drop the names for the collector
	q.mu.Lock()
	q.held = 0
	q.mu.Unlock()
	return events
}
