package cost

import "time"

// Dim says what a ledger entry's name names.
type Dim byte

// The dimensions of ledger entries. Host entries have an empty name; token cost is entered twice,
// once by model and once by program, so reports by either add up to the same total.
const (
	DimHost    Dim = 'h'
	DimModel   Dim = 'm'
	DimProgram Dim = 'p'
)

// Amount is what one ledger entry (one hour, pool, node, dimension and name) holds.
type Amount struct {
	// USD is the known cost.
	USD float64
	// UpSeconds is the host time billed; UnpricedSeconds the host time up whose price is
	// unknown (its cost is unknown, never 0).
	UpSeconds, UnpricedSeconds float64
	// Request figures (token entries only). UnpricedTokens are tokens of a model neither the
	// agent nor the price table could price.
	Requests, InputTokens, OutputTokens, CacheHits, CacheMisses, UnpricedTokens uint64
	// SavedUSD is what DSPy cache hits saved.
	SavedUSD float64
}

// Add adds b to a.
func (a *Amount) Add(b Amount) {
	a.USD += b.USD
	a.UpSeconds += b.UpSeconds
	a.UnpricedSeconds += b.UnpricedSeconds
	a.Requests += b.Requests
	a.InputTokens += b.InputTokens
	a.OutputTokens += b.OutputTokens
	a.CacheHits += b.CacheHits
	a.CacheMisses += b.CacheMisses
	a.UnpricedTokens += b.UnpricedTokens
	a.SavedUSD += b.SavedUSD
}

// Unknown reports whether part of the amount could not be priced.
func (a Amount) Unknown() bool { return a.UnpricedSeconds > 0 || a.UnpricedTokens > 0 }

// PerRequest returns the cost per request, 0 when there was none.
func (a Amount) PerRequest() float64 {
	if a.Requests == 0 {
		return 0
	}
	return a.USD / float64(a.Requests)
}

// HourAmount is one UTC hour's amount.
type HourAmount struct {
	Hour time.Time // start of the UTC hour
	Amount
}

// HostState is what host accrual needs to know of a node's state.
type HostState int

// The host states.
const (
	// Connected covers ready, draining, drained and unhealthy: the agent reports, the host runs.
	Connected HostState = iota
	// Disconnected: the stream closed but the node is not yet declared down. The host most
	// likely still runs (a restart, a network cut), so it is billed.
	Disconnected
	// Down: no report for the TTL plus grace. The host is presumed gone and not billed until
	// its agent connects again.
	Down
)

// Billed reports whether a host in state s accrues cost.
func (s HostState) Billed() bool { return s != Down }

// AccrualStart returns where host accrual at now resumes after watermark, the end of what was
// accrued before (zero: never), and the gap left unbilled. Accrual never reaches back more than
// maxGap: a longer silence of the accountant itself (the control plane was stopped) leaves the
// rest unbilled rather than guessing what the host did meanwhile. A node seen for the first time
// starts at since (its connection time), bounded the same way.
func AccrualStart(watermark, since, now time.Time, maxGap time.Duration) (from time.Time, gap time.Duration) {
	from = watermark
	if from.IsZero() {
		from = since
	}
	if from.IsZero() || from.After(now) {
		return now, 0
	}
	if earliest := now.Add(-maxGap); from.Before(earliest) {
		return earliest, earliest.Sub(from)
	}
	return from, 0
}

// AccrueHost returns the per-hour amounts of a host up during [from, to) at hourly USD, split at
// UTC hour boundaries. When known is false the time counts as UnpricedSeconds and no USD.
func AccrueHost(hourly float64, known bool, from, to time.Time) []HourAmount {
	var out []HourAmount
	for t := from; t.Before(to); {
		hour := t.UTC().Truncate(time.Hour)
		end := hour.Add(time.Hour)
		if to.Before(end) {
			end = to
		}
		secs := end.Sub(t).Seconds()
		a := Amount{UpSeconds: secs}
		if known {
			a.USD = hourly * secs / 3600
		} else {
			a.UpSeconds, a.UnpricedSeconds = 0, secs
		}
		out = append(out, HourAmount{Hour: hour, Amount: a})
		t = end
	}
	return out
}

// Usage is one model's or program's request figures over some time, as agents report them:
// CostUSD and SavedUSD are priced with the agent's own model prices.
type Usage struct {
	Requests, InputTokens, OutputTokens, CacheHits, CacheMisses uint64
	CostUSD, SavedUSD                                           float64
}

// TokenAmount prices one model's usage. The agent's figures win when it priced the model (a cost
// or saving above 0): it knew each request's cache state and tokens. Otherwise, with a table
// price, a cache hit costs 0 and saves what the model's average request that was not a hit cost:
// DSPy's cache answers locally and reports no tokens for a hit (the contrib callback sends 0),
// so the tokens are the other requests', all paid at the list price, and each hit saves their
// average. A usage of hits only (their tokens reported) is all saved. Without either price, the
// tokens count as UnpricedTokens: unknown, not free.
func TokenAmount(u Usage, price ModelPrice, havePrice bool) Amount {
	a := Amount{Requests: u.Requests, InputTokens: u.InputTokens, OutputTokens: u.OutputTokens, CacheHits: u.CacheHits, CacheMisses: u.CacheMisses}
	tokens := u.InputTokens + u.OutputTokens
	switch {
	case u.CostUSD > 0 || u.SavedUSD > 0 || tokens == 0:
		a.USD, a.SavedUSD = u.CostUSD, u.SavedUSD
	case havePrice:
		list := price.Cost(u.InputTokens, u.OutputTokens, 0)
		hits := min(u.CacheHits, u.Requests)
		paid := u.Requests - hits
		switch {
		case paid == 0 && hits > 0:
			a.SavedUSD = list
		case paid == 0:
			a.USD = list // tokens without requests: paid, nothing to estimate a hit from
		default:
			a.USD = list
			a.SavedUSD = list / float64(paid) * float64(hits)
		}
	default:
		a.UnpricedTokens = tokens
	}
	return a
}
