package sim

import (
	"context"
	"sync"
	"time"
)

// schedulerSlots is how many groups a scheduler spreads its agents over within one interval.
const schedulerSlots = 100

// Scheduler wakes every registered agent once per interval, agents spread evenly over the
// interval, from one goroutine and one ticker whatever the number of agents. A wake-up that
// finds the previous one not yet taken is dropped, as a real agent's ticker drops ticks.
type Scheduler struct {
	interval time.Duration

	mu    sync.Mutex
	slots [schedulerSlots][]chan struct{}
	next  int
}

// NewScheduler returns a scheduler for the given interval; it wakes nobody until Run.
func NewScheduler(interval time.Duration) *Scheduler {
	return &Scheduler{interval: interval}
}

// register returns a channel that receives one wake-up per interval.
func (s *Scheduler) register() <-chan struct{} {
	ch := make(chan struct{}, 1)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.slots[s.next%schedulerSlots] = append(s.slots[s.next%schedulerSlots], ch)
	s.next++
	return ch
}

// Run wakes the agents until ctx ends. Slots are due by the clock, not by ticks received, so a
// late scheduler catches up instead of stretching the interval.
func (s *Scheduler) Run(ctx context.Context) error {
	step := s.interval / schedulerSlots
	t := time.NewTicker(step)
	defer t.Stop()
	start, next := time.Now(), 0
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-t.C:
			due := int(now.Sub(start) / step)
			if due-next > schedulerSlots {
				next = due - schedulerSlots // more than an interval late: wake each agent once
			}
			s.mu.Lock()
			for ; next < due; next++ {
				for _, ch := range s.slots[next%schedulerSlots] {
					select {
					case ch <- struct{}{}:
					default:
					}
				}
			}
			s.mu.Unlock()
		}
	}
}
