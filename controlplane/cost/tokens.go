package cost

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/dspyfleet/dspyfleet/controlplane/stats"
	"github.com/dspyfleet/dspyfleet/controlplane/store"
	"github.com/dspyfleet/dspyfleet/pkg/cost"
	"github.com/dspyfleet/dspyfleet/pkg/reqstats"
)

// usageOf converts a breakdown to the cost model's usage.
func usageOf(b reqstats.Breakdown) cost.Usage {
	return cost.Usage{Requests: b.Requests, InputTokens: b.InputTokens, OutputTokens: b.OutputTokens,
		CacheHits: b.CacheHits, CacheMisses: b.CacheMisses, CostUSD: b.CostUSD, SavedUSD: b.SavedUSD}
}

// agentPriced reports whether the agent priced a breakdown's tokens (or it had none).
func agentPriced(u cost.Usage) bool {
	return u.CostUSD > 0 || u.SavedUSD > 0 || u.InputTokens+u.OutputTokens == 0
}

// tokenEntries prices the rollups of whole hours into ledger entries: one per hour, pool, node
// and model, and one per hour, pool, node and program. Models are priced by cost.TokenAmount.
// The programs the agent did not price share the minute's cost of the models the agent did not
// price, by their tokens: exact when those programs used only those models, an estimate when a
// minute mixes programs and models priced on both sides.
// The entries go into out, which the caller empties first (a node-hour's map is reused from
// step to step).
func tokenEntries(out map[ledgerKey]cost.Amount, mins []minuteWindow, prices cost.Table) {
	add := func(k ledgerKey, a cost.Amount) {
		sum := out[k]
		sum.Add(a)
		out[k] = sum
	}
	for _, m := range mins {
		rk, w := m.key, m.w
		hour := rk.Minute / 60
		var tabled cost.Amount // the models the agent did not price
		for _, b := range w.Models {
			mp, ok := prices.Models[b.Name]
			u := usageOf(b)
			a := cost.TokenAmount(u, mp, ok)
			if !agentPriced(u) {
				tabled.Add(a)
			}
			add(ledgerKey{hour: hour, pool: rk.Pool, node: rk.Node, dim: cost.DimModel, name: b.Name}, a)
		}
		var unpricedTokens uint64 // tokens of the programs the agent did not price
		for _, b := range w.Programs {
			if !agentPriced(usageOf(b)) {
				unpricedTokens += b.InputTokens + b.OutputTokens
			}
		}
		for _, b := range w.Programs {
			u := usageOf(b)
			a := cost.Amount{Requests: u.Requests, InputTokens: u.InputTokens, OutputTokens: u.OutputTokens, CacheHits: u.CacheHits, CacheMisses: u.CacheMisses,
				USD: u.CostUSD, SavedUSD: u.SavedUSD}
			if !agentPriced(u) && unpricedTokens > 0 {
				share := float64(u.InputTokens+u.OutputTokens) / float64(unpricedTokens)
				a.USD, a.SavedUSD = tabled.USD*share, tabled.SavedUSD*share
				a.UnpricedTokens = uint64(float64(tabled.UnpricedTokens)*share + 0.5)
			}
			add(ledgerKey{hour: hour, pool: rk.Pool, node: rk.Node, dim: cost.DimProgram, name: b.Name}, a)
		}
	}
}

// writeLedger adds the host amounts to their entries and writes the token entries of hours
// [first, last] in tx, deleting token entries of those hours that the rollups no longer hold,
// and returns the change of the token cost by pool and by model (new minus old) for the running
// totals. It reads the stored entries in one pass in key order, beside the new ones sorted, and
// writes in key order: a new hour's keys all go to the end of the ledger, where a Put in key
// order appends to the last page and one in random order moves the tail of every key after it.
func writeLedger(tx *store.Tx, hostAdds map[ledgerKey]cost.Amount, first, last int64, entries tokenSet) (tokenDelta, error) {
	b := tx.Bucket(store.CostLedger)
	delta := tokenDelta{pools: map[string]float64{}, models: map[string]float64{}}
	toks := make([]ledgerEntry, 0, entries.len())
	for _, es := range entries {
		for k, a := range es {
			toks = append(toks, ledgerEntry{k.encode(), k, a})
		}
	}
	slices.SortFunc(toks, func(x, y ledgerEntry) int { return bytes.Compare(x.key, y.key) })
	writes := make([]ledgerWrite, 0, len(hostAdds)+len(toks)/2)
	for k, add := range hostAdds {
		kb := k.encode()
		sum := add
		if v := b.Get(kb); v != nil {
			prev, err := decodeAmount(v)
			if err != nil {
				return tokenDelta{}, err
			}
			sum.Add(prev)
		}
		v, err := encodeFinite(k, sum)
		if err != nil {
			return tokenDelta{}, err
		}
		writes = append(writes, ledgerWrite{kb, v})
	}
	put := func(e ledgerEntry, prev cost.Amount) error {
		v, err := encodeFinite(e.k, e.a)
		if err != nil {
			return err
		}
		writes = append(writes, ledgerWrite{e.key, v})
		d := negate(prev)
		d.Add(e.a)
		delta.add(e.k, d)
		return nil
	}
	i := 0
	cur := b.Cursor()
	for k, v := cur.Seek(binary.BigEndian.AppendUint64(nil, uint64(first))); ; k, v = cur.Next() {
		if k != nil && len(k) < 8 {
			return tokenDelta{}, fmt.Errorf("%w: ledger key %x is too short", store.ErrCorruptStore, k)
		}
		done := k == nil || int64(binary.BigEndian.Uint64(k)) > last
		for ; i < len(toks) && (done || bytes.Compare(toks[i].key, k) < 0); i++ {
			if err := put(toks[i], cost.Amount{}); err != nil {
				return tokenDelta{}, err
			}
		}
		if done {
			break
		}
		if i < len(toks) && bytes.Equal(toks[i].key, k) {
			prev, err := decodeAmount(v)
			if err != nil {
				return tokenDelta{}, err
			}
			if prev != toks[i].a {
				if err := put(toks[i], prev); err != nil {
					return tokenDelta{}, err
				}
			}
			i++
			continue
		}
		dim, err := ledgerDim(k)
		if err != nil {
			return tokenDelta{}, err
		}
		if dim == cost.DimHost {
			continue
		}
		key, err := decodeLedgerKey(k)
		if err != nil {
			return tokenDelta{}, err
		}
		prev, err := decodeAmount(v)
		if err != nil {
			return tokenDelta{}, err
		}
		writes = append(writes, ledgerWrite{key: bytes.Clone(k)})
		delta.add(key, negate(prev))
	}
	slices.SortFunc(writes, func(x, y ledgerWrite) int { return bytes.Compare(x.key, y.key) })
	for _, w := range writes {
		var err error
		if w.val == nil {
			err = b.Delete(w.key)
		} else {
			err = b.Put(w.key, w.val)
		}
		if err != nil {
			return tokenDelta{}, err
		}
	}
	return delta, nil
}

// ledgerEntry is a ledger entry with its encoded key.
type ledgerEntry struct {
	key []byte
	k   ledgerKey
	a   cost.Amount
}

// ledgerWrite is one Put (or, with no value, Delete) of a ledger key.
type ledgerWrite struct {
	key, val []byte
}

// tokenDelta is the change of the token cost of a step's writes, by pool and by model.
type tokenDelta struct {
	pools, models map[string]float64
}

// add counts the change d of entry k (model entries only: they carry the token cost).
func (td tokenDelta) add(k ledgerKey, d cost.Amount) {
	if k.dim == cost.DimModel {
		td.pools[k.pool] += d.USD
		td.models[k.name] += d.USD
	}
}

// negate returns -a for the float fields (the counts are left at 0: deltas feed USD totals only).
func negate(a cost.Amount) cost.Amount {
	return cost.Amount{USD: -a.USD, SavedUSD: -a.SavedUSD, UpSeconds: -a.UpSeconds, UnpricedSeconds: -a.UnpricedSeconds}
}

// minuteWindow is one node's rollup of one minute.
type minuteWindow struct {
	key stats.RollupKey
	w   reqstats.Window
}

// nodeHour names one node's rollups of one hour.
type nodeHour struct {
	hour       int64
	pool, node string
}

// hourPrint tells whether a node's hour of rollups changed: rollups only ever grow, by more
// minutes or more requests in a minute.
type hourPrint struct {
	minutes                 int
	requests, input, output uint64
	costUSD, savedUSD       float64
}

// cachedHour is one node-hour's priced entries and the print of the rollups they came from.
type cachedHour struct {
	print   hourPrint
	entries map[ledgerKey]cost.Amount
}

// tokenCache keeps the priced entries of each node-hour, so a step prices only the node-hours
// whose rollups changed since the last one. Changing the prices clears byNodeHour. Every map
// and slice of it is reused from step to step: a step over 100,000 rollups makes no garbage of
// its own but the entries of node-hours seen for the first time.
type tokenCache struct {
	byNodeHour map[nodeHour]cachedHour
	groups     map[nodeHour]*rollupGroup // this step's rollups by node-hour
	out        tokenSet
}

// rollupGroup is one node-hour's rollups of a step, and their print.
type rollupGroup struct {
	print hourPrint
	mins  []minuteWindow
	seen  bool
}

// tokenSet is a step's token entries, by node-hour. The maps are the cache's: read only.
type tokenSet map[nodeHour]map[ledgerKey]cost.Amount

// get returns the entry of k and whether there is one.
func (ts tokenSet) get(k ledgerKey) (cost.Amount, bool) {
	a, ok := ts[nodeHour{hour: k.hour, pool: k.pool, node: k.node}][k]
	return a, ok
}

// len is the number of entries.
func (ts tokenSet) len() int {
	n := 0
	for _, es := range ts {
		n += len(es)
	}
	return n
}

// entries returns the token entries of the rollups each visits, pricing only changed
// node-hours, and forgets node-hours no longer visited. The set and its maps are the cache's:
// they are valid until the next call.
func (tc *tokenCache) entries(each func(func(stats.RollupKey, reqstats.Window)) error, prices cost.Table) (tokenSet, error) {
	if tc.groups == nil {
		tc.groups = make(map[nodeHour]*rollupGroup, len(tc.byNodeHour))
		tc.out = make(tokenSet, len(tc.byNodeHour))
	}
	for _, g := range tc.groups {
		g.print, g.mins, g.seen = hourPrint{}, g.mins[:0], false
	}
	err := each(func(k stats.RollupKey, w reqstats.Window) {
		nh := nodeHour{hour: k.Minute / 60, pool: k.Pool, node: k.Node}
		g := tc.groups[nh]
		if g == nil {
			g = &rollupGroup{}
			tc.groups[nh] = g
		}
		g.seen = true
		g.mins = append(g.mins, minuteWindow{k, w})
		p := &g.print
		p.minutes++
		p.requests += w.Requests
		p.input += w.InputTokens
		p.output += w.OutputTokens
		p.costUSD += w.CostUSD
		p.savedUSD += w.SavedUSD
	})
	if err != nil {
		return nil, err
	}
	clear(tc.out)
	for nh, g := range tc.groups {
		if !g.seen {
			delete(tc.groups, nh)
			continue
		}
		c, ok := tc.byNodeHour[nh]
		if !ok || c.print != g.print {
			if c.entries == nil {
				c.entries = make(map[ledgerKey]cost.Amount)
			} else {
				clear(c.entries)
			}
			tokenEntries(c.entries, g.mins, prices)
			c.print = g.print
			tc.byNodeHour[nh] = c
		}
		tc.out[nh] = c.entries
	}
	for nh := range tc.byNodeHour {
		if _, ok := tc.groups[nh]; !ok {
			delete(tc.byNodeHour, nh)
		}
	}
	return tc.out, nil
}
