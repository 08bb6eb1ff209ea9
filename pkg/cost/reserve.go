package cost

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"
)

// ErrExhausted means a hard budget has no room left for a request; the error is an
// *ExhaustedError saying which budget and when its period resets.
var ErrExhausted = errors.New("budget exhausted")

// ExhaustedError is the refusal of a reservation.
type ExhaustedError struct {
	Budget                 string
	LimitUSD, CommittedUSD float64
	ResetAt                time.Time
}

// Error names the budget, its standing and when it resets.
func (e *ExhaustedError) Error() string {
	return fmt.Sprintf("hard budget %q is exhausted: %.4f of %.4f USD spent or reserved this period; it resets at %s",
		e.Budget, e.CommittedUSD, e.LimitUSD, e.ResetAt.UTC().Format(time.RFC3339))
}

// Unwrap lets errors.Is(err, ErrExhausted) match.
func (e *ExhaustedError) Unwrap() error { return ErrExhausted }

// Hold is spend reserved for one request against the hard budgets that cover it, until it is
// settled with the real figure or expires.
type Hold struct {
	ID      uint64
	Budgets []string
	USD     float64
	Expires time.Time
}

// epsilonUSD absorbs floating-point error in sums of many small amounts: a nano-dollar.
const epsilonUSD = 1e-9

// account is one hard budget's standing in the current period.
type account struct {
	budget     Budget
	loc        *time.Location
	start, end time.Time
	ledgerUSD  float64           // what the ledger shows spent this period
	settled    map[int64]float64 // real figures of settled holds by unix second, until the ledger has them
	heldUSD    float64           // outstanding holds
}

// committed is what counts against the limit: the ledger, the settled holds the ledger may not
// show yet, and the outstanding holds.
func (a *account) committed() float64 {
	sum := a.ledgerUSD + a.heldUSD
	for _, usd := range a.settled {
		sum += usd
	}
	return sum
}

// roll moves the account into the period holding now, forgetting the old period's figures.
func (a *account) roll(now time.Time) {
	if now.Before(a.end) && !now.Before(a.start) {
		return
	}
	a.start, a.end = a.budget.Period.Bounds(now, a.loc)
	a.ledgerUSD = 0
	clear(a.settled)
}

// Reservations is the accounting of hard budgets at the door: Reserve holds an estimate against
// every hard budget covering a request, all or nothing, and refuses when any would go over its
// limit; Settle replaces the estimate with the real figure. Since every check and hold happens
// in one call, callers serialising calls (one mutex) can never overshoot a limit, however many
// requests reserve at once, as long as real figures stay within their estimates.
//
// A settled cost counts on its own until the ledger shows it: each Sync takes the ledger's growth
// since the last one off the settled costs, oldest first, so a ledger that lags behind the
// requests (one-minute rollups, report intervals) never lets the same spend through twice. A
// settled cost the ledger never shows (its agent's reports were lost) stops counting lag after
// the settle.
//
// It is not safe for concurrent use.
type Reservations struct {
	lag      time.Duration
	next     uint64
	holds    map[uint64]Hold
	accounts map[string]*account
}

// NewReservations returns empty accounting. lag bounds how long after a settle a cost the ledger
// has not shown keeps counting: well beyond the agent's report interval, the rollup minute and
// the control plane's reconcile interval.
func NewReservations(lag time.Duration) *Reservations {
	return &Reservations{lag: lag, holds: map[uint64]Hold{}, accounts: map[string]*account{}}
}

// Sync sets hard budget b's spend as the ledger shows it for the period holding now (loc as in
// Period.Bounds), takes what the ledger gained since the last Sync off the settled costs, oldest
// first, and stops counting settled costs older than the lag. A budget changed to soft is
// forgotten. Holds outstanding keep counting.
func (r *Reservations) Sync(b Budget, loc *time.Location, ledgerUSD float64, now time.Time) {
	if !b.Hard {
		r.Forget(b.Name)
		return
	}
	a := r.accounts[b.Name]
	if a == nil {
		a = &account{settled: map[int64]float64{}}
		r.accounts[b.Name] = a
	}
	if a.budget.Period != b.Period || a.loc != loc {
		a.start, a.end = time.Time{}, time.Time{}
	}
	a.budget, a.loc = b, loc
	a.roll(now)
	gained := max(ledgerUSD-a.ledgerUSD, 0)
	a.ledgerUSD = ledgerUSD
	cutoff := now.Add(-r.lag).Unix()
	for _, sec := range slices.Sorted(maps.Keys(a.settled)) {
		usd := a.settled[sec]
		taken := min(usd, gained)
		gained -= taken
		if sec < cutoff || usd-taken <= epsilonUSD {
			delete(a.settled, sec)
		} else {
			a.settled[sec] = usd - taken
		}
	}
}

// Forget drops a budget's account; holds against it no longer count anywhere.
func (r *Reservations) Forget(name string) { delete(r.accounts, name) }

// Names returns the budgets accounted for, sorted.
func (r *Reservations) Names() []string {
	var out []string
	for n := range r.accounts {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// covering returns the hard budgets that cover a request of pool and program, sorted by name.
func (r *Reservations) covering(pool, program string) []*account {
	var out []*account
	for _, name := range r.Names() {
		a := r.accounts[name]
		b := a.budget
		if (b.Pool == "" && b.Program == "") || (b.Pool != "" && b.Pool == pool) || (b.Program != "" && b.Program == program) {
			out = append(out, a)
		}
	}
	return out
}

// Reserve holds usd against every hard budget covering pool and program at now, for ttl. When
// one has no room and names a fallback pool, it tries the fallback pool once (its own budgets
// and the global and program ones) and returns its name. Otherwise it fails with an
// *ExhaustedError naming the first budget without room and when it resets.
func (r *Reservations) Reserve(pool, program string, usd float64, now time.Time, ttl time.Duration) (Hold, string, error) {
	if math.IsNaN(usd) || math.IsInf(usd, 0) || usd < 0 {
		return Hold{}, "", fmt.Errorf("%w: estimate %g must be a finite amount, not negative", ErrInvalid, usd)
	}
	h, err := r.reserve(pool, program, usd, now, ttl)
	var ex *ExhaustedError
	if !errors.As(err, &ex) {
		return h, "", err
	}
	fallback := r.accounts[ex.Budget].budget.FallbackPool
	if fallback == "" || fallback == pool {
		return Hold{}, "", err
	}
	h, ferr := r.reserve(fallback, program, usd, now, ttl)
	if ferr != nil {
		return Hold{}, "", ferr
	}
	return h, fallback, nil
}

// ReserveCold is Reserve for a request whose cost nothing predicts yet (no history of its program
// or of the fleet): it holds ceiling, the most one request is taken to cost. Where a covering
// budget has less room left than ceiling and nothing outstanding (no hold, no settled cost the
// ledger does not show), it holds that room instead: cold requests then pass one at a time, each
// known before the next, rather than all at once or never.
func (r *Reservations) ReserveCold(pool, program string, ceiling float64, now time.Time, ttl time.Duration) (Hold, string, error) {
	if math.IsNaN(ceiling) || math.IsInf(ceiling, 0) || ceiling < 0 {
		return Hold{}, "", fmt.Errorf("%w: ceiling %g must be a finite amount, not negative", ErrInvalid, ceiling)
	}
	usd := ceiling
	for _, a := range r.covering(pool, program) {
		a.roll(now)
		room := a.budget.LimitUSD - a.committed()
		if usd > room && room > epsilonUSD && a.heldUSD <= epsilonUSD && len(a.settled) == 0 {
			usd = room
		}
	}
	return r.Reserve(pool, program, usd, now, ttl)
}

// reserve holds usd against the budgets covering pool and program, all or nothing. A request no
// hard budget covers gets the zero Hold (ID 0), which holds nothing.
func (r *Reservations) reserve(pool, program string, usd float64, now time.Time, ttl time.Duration) (Hold, error) {
	accts := r.covering(pool, program)
	for _, a := range accts {
		a.roll(now)
		if c := a.committed(); c+usd > a.budget.LimitUSD+epsilonUSD {
			return Hold{}, &ExhaustedError{Budget: a.budget.Name, LimitUSD: a.budget.LimitUSD, CommittedUSD: c, ResetAt: a.end}
		}
	}
	if len(accts) == 0 {
		return Hold{}, nil
	}
	r.next++
	h := Hold{ID: r.next, USD: usd, Expires: now.Add(ttl)}
	for _, a := range accts {
		a.heldUSD += usd
		h.Budgets = append(h.Budgets, a.budget.Name)
	}
	r.holds[h.ID] = h
	return h, nil
}

// ErrNoHold means a hold was already settled, released or expired.
var ErrNoHold = errors.New("no such hold")

// Settle ends hold id with the request's real cost, which counts as spent in the period that
// holds now.
func (r *Reservations) Settle(id uint64, actualUSD float64, now time.Time) error {
	if math.IsNaN(actualUSD) || math.IsInf(actualUSD, 0) || actualUSD < 0 {
		return fmt.Errorf("%w: actual cost %g must be a finite amount, not negative", ErrInvalid, actualUSD)
	}
	h, ok := r.holds[id]
	if !ok {
		return fmt.Errorf("%w: hold %d (settled, released or expired)", ErrNoHold, id)
	}
	r.drop(h)
	for _, name := range h.Budgets {
		if a := r.accounts[name]; a != nil {
			a.roll(now)
			a.settled[now.Unix()] += actualUSD
		}
	}
	return nil
}

// SettleEstimate ends hold id with its own estimate as the cost, for a request whose real
// cost is not known yet (the agents' reports bring it to the ledger).
func (r *Reservations) SettleEstimate(id uint64, now time.Time) error {
	h, ok := r.holds[id]
	if !ok {
		return fmt.Errorf("%w: hold %d (settled, released or expired)", ErrNoHold, id)
	}
	return r.Settle(id, h.USD, now)
}

// Release ends hold id without spend (the request was not sent).
func (r *Reservations) Release(id uint64) error {
	h, ok := r.holds[id]
	if !ok {
		return fmt.Errorf("%w: hold %d (settled, released or expired)", ErrNoHold, id)
	}
	r.drop(h)
	return nil
}

// Expire releases every hold past its expiry at now and returns how many it released. The
// requests' real cost still reaches the ledger through agent reports.
func (r *Reservations) Expire(now time.Time) int {
	n := 0
	for _, h := range r.holds {
		if !now.Before(h.Expires) {
			r.drop(h)
			n++
		}
	}
	return n
}

// drop removes a hold and its amount from its budgets.
func (r *Reservations) drop(h Hold) {
	delete(r.holds, h.ID)
	for _, name := range h.Budgets {
		if a := r.accounts[name]; a != nil {
			a.heldUSD = max(a.heldUSD-h.USD, 0)
		}
	}
}

// Committed returns what counts against budget name's limit now (spent plus held), false for a
// budget not accounted for.
func (r *Reservations) Committed(name string) (float64, bool) {
	a := r.accounts[name]
	if a == nil {
		return 0, false
	}
	return a.committed(), true
}
