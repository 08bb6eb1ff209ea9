package cost

import (
	"fmt"
	"sync"
	"time"

	"github.com/dspyfleet/dspyfleet/pkg/cost"
)

// holdTTL is how long a reservation holds spend when it is neither settled nor released. The
// request's real cost still reaches the ledger through its agent's reports.
const holdTTL = 5 * time.Minute

// settleLag bounds how long a settled cost the ledger does not show keeps counting on its own;
// until then each cost step takes what the ledger gained off it. Well past an agent's report
// interval, the rollup minute and a reconcile interval.
const settleLag = 10 * time.Minute

// Reservation is spend held for one routed request against the hard budgets covering it.
// Settle or release it exactly once.
type Reservation struct {
	ID       uint64
	budgets  []string
	estimate float64
	expires  time.Time
}

// Gate guards hard budgets at the door: routing reserves a request's estimated cost
// before it picks a node, and settles the reservation with the real cost. One mutex around
// cost.Reservations makes every check-and-hold atomic, so concurrent requests never overshoot a
// limit (while real costs stay within their estimates). The cost step keeps each hard budget's
// ledger spend in sync and expires forgotten holds.
type Gate struct {
	mu        sync.Mutex
	res       *cost.Reservations
	byProgram map[string]float64 // recent cost per request, by program
	fleet     float64            // recent cost per request of the whole fleet
	cold      float64            // what a request nothing predicts is taken to cost
}

// DefaultColdRequestUSD is what a request is taken to cost at a hard budget's door while neither
// its program nor the fleet has a recent cost per request: a generous LLM call.
const DefaultColdRequestUSD = 0.01

func newBudgetGate() *Gate {
	return &Gate{res: cost.NewReservations(settleLag), cold: DefaultColdRequestUSD}
}

// SetColdEstimate sets what a request nothing predicts is taken to cost (--budget-cold-request-usd).
func (g *Gate) SetColdEstimate(usd float64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.cold = usd
}

// ReserveRequest holds a routed request's likely cost against the hard budgets covering it: its
// program's recent cost per request, else the fleet's, else, cold, the configured ceiling (one
// request at a time where a budget has less room than that). Results as Reserve.
func (g *Gate) ReserveRequest(pool, program string, now time.Time) (r Reservation, fallbackPool string, err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	est, known := g.estimateLocked(program)
	var h cost.Hold
	if known {
		h, fallbackPool, err = g.res.Reserve(pool, program, est, now, holdTTL)
	} else {
		h, fallbackPool, err = g.res.ReserveCold(pool, program, g.cold, now, holdTTL)
	}
	if err != nil {
		return Reservation{}, "", fmt.Errorf("pool %q, program %q: %w", pool, program, err)
	}
	return Reservation{ID: h.ID, budgets: h.Budgets, estimate: h.USD, expires: h.Expires}, fallbackPool, nil
}

// Reserve holds estimateUSD for a request to pool running program. When a hard budget covering
// it is exhausted and names a fallback pool with room, the hold is made there and fallbackPool
// names it: route the request to that pool. Otherwise the error wraps cost.ErrExhausted (gRPC
// RESOURCE_EXHAUSTED through toStatus) and says which budget and when its period resets. A
// request no hard budget covers gets an empty reservation, which settle and release accept.
func (g *Gate) Reserve(pool, program string, estimateUSD float64, now time.Time) (r Reservation, fallbackPool string, err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	h, fallback, err := g.res.Reserve(pool, program, estimateUSD, now, holdTTL)
	if err != nil {
		return Reservation{}, "", fmt.Errorf("pool %q, program %q: %w", pool, program, err)
	}
	return Reservation{ID: h.ID, budgets: h.Budgets, estimate: h.USD, expires: h.Expires}, fallback, nil
}

// Settle ends r with the request's real cost, which counts against r's budgets until the
// ledger catches up with it.
func (g *Gate) Settle(r Reservation, actualUSD float64, now time.Time) error {
	if r.ID == 0 {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.res.Settle(r.ID, actualUSD, now)
}

// SettleEstimate ends the hold id with its estimate as the cost.
func (g *Gate) SettleEstimate(id uint64, now time.Time) error {
	if id == 0 {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.res.SettleEstimate(id, now)
}

// Release ends r without spend: the request was not sent.
func (g *Gate) Release(r Reservation) error {
	if r.ID == 0 {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.res.Release(r.ID)
}

// sync sets a budget's ledger spend; a soft budget is forgotten by the gate.
func (g *Gate) sync(b cost.Budget, loc *time.Location, ledgerUSD float64, now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.res.Sync(b, loc, ledgerUSD, now)
}

// forget drops a deleted budget.
func (g *Gate) forget(name string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.res.Forget(name)
}

// expire releases holds past their expiry.
func (g *Gate) expire(now time.Time) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.res.Expire(now)
}

// committed returns what counts against a hard budget now, false for an unknown or soft one.
func (g *Gate) committed(name string) (float64, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.res.Committed(name)
}

// estimates returns each program's token cost per request over the current and the last hour,
// and the fleet's, for the gate's estimates. The step calls it (the hour aggregates' only
// writer, so it reads them without c.mu).
func (c *Tracker) estimates(now time.Time) (map[string]float64, float64) {
	progs := map[string]cost.Amount{}
	var all cost.Amount
	for _, h := range []int64{hourOf(now) - 1, hourOf(now)} {
		agg := c.hours[h]
		if agg == nil {
			continue
		}
		for name, a := range agg.programs {
			sum := progs[name]
			sum.Add(a)
			progs[name] = sum
		}
		for _, a := range agg.tokens {
			all.Add(a)
		}
	}
	out := make(map[string]float64, len(progs))
	for name, a := range progs {
		if a.Requests > 0 {
			out[name] = a.PerRequest()
		}
	}
	return out, all.PerRequest()
}

// setEstimates installs the per-request estimates the cost step computed.
func (g *Gate) setEstimates(byProgram map[string]float64, fleet float64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.byProgram, g.fleet = byProgram, fleet
}

// Estimate returns what a request of program is likely to cost: the program's token cost per
// request over the current and the last hour as of the last cost step, else the fleet's, else 0
// (nothing known yet: ReserveRequest then holds the cold ceiling). It never waits for the cost
// step's store writes.
func (g *Gate) Estimate(program string) float64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	est, _ := g.estimateLocked(program)
	return est
}

// estimateLocked is Estimate, and whether anything predicts it: the program ran recently (even at
// no cost), or the fleet's requests cost something.
func (g *Gate) estimateLocked(program string) (float64, bool) {
	if v, ok := g.byProgram[program]; ok {
		return v, true
	}
	return g.fleet, g.fleet > 0
}
