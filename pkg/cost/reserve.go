package cost

import (
	"errors"
	"fmt"
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

// account is one hard budget's standing in the current period.
type account struct {
	budget     Budget
	loc        *time.Location
	start, end time.Time
	ledgerUSD  float64 // what the ledger shows spent this period
	settledUSD float64 // real figures of holds settled this period
	heldUSD    float64 // outstanding holds
}

// committed is what counts against the limit. The ledger and the settled holds measure the same
// requests (settled ones reach the ledger through agent reports a little later), so the larger
// of the two counts, never their sum.
func (a *account) committed() float64 { return max(a.ledgerUSD, a.settledUSD) + a.heldUSD }

// roll moves the account into the period holding now, forgetting the old period's figures.
func (a *account) roll(now time.Time) {
	if now.Before(a.end) && !now.Before(a.start) {
		return
	}
	a.start, a.end = a.budget.Period.Bounds(now, a.loc)
	a.ledgerUSD, a.settledUSD = 0, 0
}

// Reservations is the accounting of hard budgets at the door: Reserve holds an estimate against
// every hard budget covering a request, all or nothing, and refuses when any would go over its
// limit; Settle replaces the estimate with the real figure. Since every check and hold happens
// in one call, callers serialising calls (one mutex) can never overshoot a limit, however many
// requests reserve at once, as long as real figures stay within their estimates.
//
// It is not safe for concurrent use.
type Reservations struct {
	next     uint64
	holds    map[uint64]Hold
	accounts map[string]*account
}

// NewReservations returns empty accounting.
func NewReservations() *Reservations {
	return &Reservations{holds: map[uint64]Hold{}, accounts: map[string]*account{}}
}

// Sync sets hard budget b's spend as the ledger shows it for the period holding now (loc as in
// Period.Bounds). A budget changed to soft is forgotten. Holds outstanding keep counting.
func (r *Reservations) Sync(b Budget, loc *time.Location, ledgerUSD float64, now time.Time) {
	if !b.Hard {
		r.Forget(b.Name)
		return
	}
	a := r.accounts[b.Name]
	if a == nil {
		a = &account{}
		r.accounts[b.Name] = a
	}
	if a.budget.Period != b.Period || a.loc != loc {
		a.start, a.end = time.Time{}, time.Time{}
	}
	a.budget, a.loc = b, loc
	a.roll(now)
	a.ledgerUSD = ledgerUSD
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

// reserve holds usd against the budgets covering pool and program, all or nothing.
func (r *Reservations) reserve(pool, program string, usd float64, now time.Time, ttl time.Duration) (Hold, error) {
	accts := r.covering(pool, program)
	for _, a := range accts {
		a.roll(now)
		if c := a.committed(); c+usd > a.budget.LimitUSD {
			return Hold{}, &ExhaustedError{Budget: a.budget.Name, LimitUSD: a.budget.LimitUSD, CommittedUSD: c, ResetAt: a.end}
		}
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
			a.settledUSD += actualUSD
		}
	}
	return nil
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
