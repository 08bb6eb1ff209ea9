package controlplane

import (
	"fmt"
	"sync"
	"time"

	"github.com/dspyfleet/dspyfleet/pkg/cost"
)

// holdTTL is how long a reservation holds spend when it is neither settled nor released. The
// request's real cost still reaches the ledger through its agent's reports.
const holdTTL = 5 * time.Minute

// reservation is spend held for one routed request against the hard budgets covering it.
// Settle or release it exactly once.
type reservation struct {
	id       uint64
	budgets  []string
	estimate float64
	expires  time.Time
}

// budgetGate guards hard budgets at the door: routing reserves a request's estimated cost
// before it picks a node, and settles the reservation with the real cost. One mutex around
// cost.Reservations makes every check-and-hold atomic, so concurrent requests never overshoot a
// limit (while real costs stay within their estimates). The cost step keeps each hard budget's
// ledger spend in sync and expires forgotten holds.
type budgetGate struct {
	mu  sync.Mutex
	res *cost.Reservations
}

func newBudgetGate() *budgetGate { return &budgetGate{res: cost.NewReservations()} }

// reserve holds estimateUSD for a request to pool running program. When a hard budget covering
// it is exhausted and names a fallback pool with room, the hold is made there and fallbackPool
// names it: route the request to that pool. Otherwise the error wraps cost.ErrExhausted (gRPC
// RESOURCE_EXHAUSTED through toStatus) and says which budget and when its period resets. A
// request no hard budget covers gets an empty reservation, which settle and release accept.
func (g *budgetGate) reserve(pool, program string, estimateUSD float64, now time.Time) (r reservation, fallbackPool string, err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	h, fallback, err := g.res.Reserve(pool, program, estimateUSD, now, holdTTL)
	if err != nil {
		return reservation{}, "", fmt.Errorf("pool %q, program %q: %w", pool, program, err)
	}
	return reservation{id: h.ID, budgets: h.Budgets, estimate: h.USD, expires: h.Expires}, fallback, nil
}

// settle ends r with the request's real cost, which counts against r's budgets until the
// ledger catches up with it.
func (g *budgetGate) settle(r reservation, actualUSD float64, now time.Time) error {
	if r.id == 0 {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.res.Settle(r.id, actualUSD, now)
}

// release ends r without spend: the request was not sent.
func (g *budgetGate) release(r reservation) error {
	if r.id == 0 {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.res.Release(r.id)
}

// sync sets a budget's ledger spend; a soft budget is forgotten by the gate.
func (g *budgetGate) sync(b cost.Budget, loc *time.Location, ledgerUSD float64, now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.res.Sync(b, loc, ledgerUSD, now)
}

// forget drops a deleted budget.
func (g *budgetGate) forget(name string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.res.Forget(name)
}

// expire releases holds past their expiry.
func (g *budgetGate) expire(now time.Time) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.res.Expire(now)
}

// committed returns what counts against a hard budget now, false for an unknown or soft one.
func (g *budgetGate) committed(name string) (float64, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.res.Committed(name)
}
