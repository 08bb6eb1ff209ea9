package cost

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"time"

	"github.com/dspyfleet/dspyfleet/controlplane/store"
	"github.com/dspyfleet/dspyfleet/pkg/cost"
)

// ledgerKey names one ledger entry: a UTC hour, pool, node, dimension and name.
type ledgerKey struct {
	hour       int64 // unix hours
	pool, node string
	dim        cost.Dim
	name       string
}

// encode is the bbolt key, time-ordered: 8-byte hour, pool, 0, node, 0, dim, name.
func (k ledgerKey) encode() []byte {
	b := binary.BigEndian.AppendUint64(make([]byte, 0, 11+len(k.pool)+len(k.node)+len(k.name)), uint64(k.hour))
	b = append(b, k.pool...)
	b = append(b, 0)
	b = append(b, k.node...)
	b = append(b, 0, byte(k.dim))
	return append(b, k.name...)
}

func decodeLedgerKey(b []byte) (ledgerKey, error) {
	if len(b) < 11 {
		return ledgerKey{}, fmt.Errorf("%w: ledger key %x is too short", store.ErrCorruptStore, b)
	}
	pool, rest, ok1 := bytes.Cut(b[8:], []byte{0})
	node, rest, ok2 := bytes.Cut(rest, []byte{0})
	if !ok1 || !ok2 || len(rest) < 1 {
		return ledgerKey{}, fmt.Errorf("%w: ledger key %x is malformed", store.ErrCorruptStore, b)
	}
	return ledgerKey{hour: int64(binary.BigEndian.Uint64(b[:8])), pool: string(pool), node: string(node), dim: cost.Dim(rest[0]), name: string(rest[1:])}, nil
}

// ledgerDim returns the dimension of an encoded ledger key without decoding its names.
func ledgerDim(b []byte) (cost.Dim, error) {
	if len(b) >= 11 {
		if i := bytes.IndexByte(b[8:], 0); i >= 0 {
			rest := b[8+i+1:]
			if j := bytes.IndexByte(rest, 0); j >= 0 && j+1 < len(rest) {
				return cost.Dim(rest[j+1]), nil
			}
		}
	}
	return 0, fmt.Errorf("%w: ledger key %x is malformed", store.ErrCorruptStore, b)
}

// hourOf returns t's unix hour.
func hourOf(t time.Time) int64 { return t.Unix() / 3600 }

// hourTime returns the start of unix hour h.
func hourTime(h int64) time.Time { return time.Unix(h*3600, 0).UTC() }

// amountLen is the encoded size of a ledger amount: a version byte and ten 8-byte fields.
const amountLen = 1 + 10*8

// encodeAmount writes a as fixed big-endian fields.
func encodeAmount(a cost.Amount) []byte {
	b := make([]byte, 1, amountLen)
	b[0] = 1
	for _, f := range []float64{a.USD, a.UpSeconds, a.UnpricedSeconds, a.SavedUSD} {
		b = binary.BigEndian.AppendUint64(b, math.Float64bits(f))
	}
	for _, n := range []uint64{a.Requests, a.InputTokens, a.OutputTokens, a.CacheHits, a.CacheMisses, a.UnpricedTokens} {
		b = binary.BigEndian.AppendUint64(b, n)
	}
	return b
}

func decodeAmount(b []byte) (cost.Amount, error) {
	if len(b) != amountLen || b[0] != 1 {
		return cost.Amount{}, fmt.Errorf("%w: ledger amount of %d bytes, version %d", store.ErrCorruptStore, len(b), firstByte(b))
	}
	u := func(i int) uint64 { return binary.BigEndian.Uint64(b[1+8*i:]) }
	f := func(i int) float64 { return math.Float64frombits(u(i)) }
	return cost.Amount{
		USD: f(0), UpSeconds: f(1), UnpricedSeconds: f(2), SavedUSD: f(3),
		Requests: u(4), InputTokens: u(5), OutputTokens: u(6), CacheHits: u(7), CacheMisses: u(8), UnpricedTokens: u(9),
	}, nil
}

func firstByte(b []byte) byte {
	if len(b) == 0 {
		return 0
	}
	return b[0]
}

// hourAgg is one hour's spend by budget scope, kept in memory for budgets and run rates.
type hourAgg struct {
	host     map[string]cost.Amount // by pool
	tokens   map[string]cost.Amount // by pool (model entries)
	models   map[string]cost.Amount // by model
	programs map[string]cost.Amount // by program
	// hostByCapacity is host cost by pool and capacity type, for capacity-type budgets.
	hostByCapacity map[[2]string]cost.Amount
}

func newHourAgg() *hourAgg {
	return &hourAgg{host: map[string]cost.Amount{}, tokens: map[string]cost.Amount{}, models: map[string]cost.Amount{}, programs: map[string]cost.Amount{},
		hostByCapacity: map[[2]string]cost.Amount{}}
}

// clone returns a copy of h to change, or a new aggregate for a nil h.
func (h *hourAgg) clone() *hourAgg {
	if h == nil {
		return newHourAgg()
	}
	return &hourAgg{host: maps.Clone(h.host), tokens: maps.Clone(h.tokens), models: maps.Clone(h.models), programs: maps.Clone(h.programs),
		hostByCapacity: maps.Clone(h.hostByCapacity)}
}

// add counts one ledger entry.
func (h *hourAgg) add(k ledgerKey, a cost.Amount) {
	var m map[string]cost.Amount
	name := k.pool
	switch k.dim {
	case cost.DimHost:
		m = h.host
		h.addCapacity(k, a)
	case cost.DimModel:
		m = h.tokens
		sum := h.models[k.name]
		sum.Add(a)
		h.models[k.name] = sum
	case cost.DimProgram:
		m, name = h.programs, k.name
	default:
		return
	}
	sum := m[name]
	sum.Add(a)
	m[name] = sum
}

// spend returns what the hour counts against a budget of pool or program (both empty: the
// fleet): host and token cost for the fleet and pools, token cost for programs.
func (h *hourAgg) spend(pool, program string) cost.Amount {
	var out cost.Amount
	switch {
	case program != "":
		out.Add(h.programs[program])
	case pool != "":
		out.Add(h.host[pool])
		out.Add(h.tokens[pool])
	default:
		for _, a := range h.host {
			out.Add(a)
		}
		for _, a := range h.tokens {
			out.Add(a)
		}
	}
	return out
}

// ErrNonFinite means a ledger sum is not a finite number; the ledger refuses to store it.
var ErrNonFinite = errors.New("cost ledger amount is not a finite number")

// encodeFinite encodes a for the entry named k, refusing non-finite amounts.
func encodeFinite(k ledgerKey, a cost.Amount) ([]byte, error) {
	if !a.Finite() {
		return nil, fmt.Errorf("%w: entry of hour %s, pool %q, node %q, %q: usd %g, saved_usd %g, up %gs, unpriced %gs",
			ErrNonFinite, hourTime(k.hour).Format(time.RFC3339), k.pool, k.node, k.name, a.USD, a.SavedUSD, a.UpSeconds, a.UnpricedSeconds)
	}
	return encodeAmount(a), nil
}

// scanLedger calls fn with every ledger entry of the hours in [first, last] (unix hours), in
// time order, within tx. A key or an amount that does not decode is ErrCorruptStore. Entries
// whose amount is not finite (written before the ledger refused them) are skipped: New removes
// those it loads.
func scanLedger(tx *store.Tx, first, last int64, fn func(ledgerKey, cost.Amount)) error {
	cur := tx.Bucket(store.CostLedger).Cursor()
	for k, v := cur.Seek(binary.BigEndian.AppendUint64(nil, uint64(first))); k != nil; k, v = cur.Next() {
		key, err := decodeLedgerKey(k)
		if err != nil {
			return err
		}
		if key.hour > last {
			break
		}
		a, err := decodeAmount(v)
		if err != nil {
			return err
		}
		if a.Finite() {
			fn(key, a)
		}
	}
	return nil
}

// dropNonFinite removes the ledger entries from unix hour first on whose amount is not finite
// (written before the ledger refused them: they would hold every budget they count against
// exhausted), logging each. The hours before first are only read by reports, which skip them.
func dropNonFinite(log *slog.Logger, st *store.Store, first int64) error {
	var bad [][]byte
	if err := st.View(func(tx *store.Tx) error {
		cur := tx.Bucket(store.CostLedger).Cursor()
		for k, v := cur.Seek(binary.BigEndian.AppendUint64(nil, uint64(first))); k != nil; k, v = cur.Next() {
			if a, err := decodeAmount(v); err == nil && !a.Finite() {
				bad = append(bad, bytes.Clone(k))
			}
		}
		return nil
	}); err != nil || len(bad) == 0 {
		return err
	}
	return st.Update(func(tx *store.Tx) error {
		b := tx.Bucket(store.CostLedger)
		for _, k := range bad {
			key, err := decodeLedgerKey(k)
			if err != nil {
				return err
			}
			a, _ := decodeAmount(b.Get(k))
			log.Error("cost ledger entry with a non-finite amount removed (written before amounts were bounded); its cost is lost",
				"hour", hourTime(key.hour).Format(time.RFC3339), "pool", key.pool, "node", key.node, "name", key.name, "usd", a.USD, "saved_usd", a.SavedUSD)
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
}
