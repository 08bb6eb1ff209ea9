package agent

import (
	"sync"

	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// reportBuffer holds reports until the control plane acknowledges them, in seq order. When full
// it drops the oldest report and counts it, so a long outage costs old samples, never memory.
type reportBuffer struct {
	mu       sync.Mutex
	items    []*fleetv1.MetricsReport
	capacity int
	dropped  uint64
	rejected uint64
	acked    uint64
	notify   chan struct{}
}

func newReportBuffer(capacity int) *reportBuffer {
	return &reportBuffer{capacity: capacity, notify: make(chan struct{}, 1)}
}

// push appends r, dropping the oldest report when the buffer is full.
func (b *reportBuffer) push(r *fleetv1.MetricsReport) {
	b.mu.Lock()
	if len(b.items) == b.capacity {
		copy(b.items, b.items[1:])
		b.items = b.items[:len(b.items)-1]
		b.dropped++
	}
	b.items = append(b.items, r)
	b.mu.Unlock()
	select {
	case b.notify <- struct{}{}:
	default:
	}
}

// ack forgets every report up to seq.
func (b *reportBuffer) ack(seq uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if seq > b.acked {
		b.acked = seq
	}
	i := 0
	for i < len(b.items) && b.items[i].GetSeq() <= seq {
		i++
	}
	b.items = append(b.items[:0], b.items[i:]...)
}

// reject forgets the report with seq, which the control plane refused as invalid.
func (b *reportBuffer) reject(seq uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, r := range b.items {
		if r.GetSeq() == seq {
			b.items = append(b.items[:i], b.items[i+1:]...)
			b.rejected++
			return
		}
	}
}

// after returns the buffered reports with a seq above seq, oldest first.
func (b *reportBuffer) after(seq uint64) []*fleetv1.MetricsReport {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []*fleetv1.MetricsReport
	for _, r := range b.items {
		if r.GetSeq() > seq {
			out = append(out, r)
		}
	}
	return out
}

// counts returns the number buffered, dropped, rejected and the highest acknowledged seq.
func (b *reportBuffer) counts() (buffered int, dropped, rejected, acked uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.items), b.dropped, b.rejected, b.acked
}
