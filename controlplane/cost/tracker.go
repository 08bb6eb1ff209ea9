package cost

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/dspyfleet/dspyfleet/controlplane/fleet"
	"github.com/dspyfleet/dspyfleet/controlplane/stats"
	"github.com/dspyfleet/dspyfleet/controlplane/store"
	"github.com/dspyfleet/dspyfleet/pkg/cost"
	"github.com/dspyfleet/dspyfleet/pkg/reqstats"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// Host accrual and token recomputation bounds.
const (
	// hostMaxGap is the most host time accrued at once. When the control plane was stopped
	// longer, the rest of the outage is not billed (and logged), rather than guessed.
	hostMaxGap = 15 * time.Minute
	// lateReports is how far back token cost is recomputed from the rollups on every step, so
	// reports an agent buffered through a disconnect still land in their hour.
	lateReports = time.Hour
	// hoursInMemory is the span of hourly spend kept in memory for budgets: the longest period.
	hoursInMemory = 32 * 24
	// purchaseLabel is the node label naming its purchase option.
	purchaseLabel = "purchase"
	// tolerantLabel marks a node of an interruption-tolerant pool with the value "true".
	tolerantLabel = "interruption-tolerant"
)

// keyTokensThrough is the cost_marks key of the last hour whose token cost was recomputed.
var keyTokensThrough = []byte("\x00tokens")

// Tracker keeps the cost ledger: it accrues host cost for every billed second of each
// node, recomputes token cost from the request rollups, evaluates budgets, guards hard budgets
// and draws recommendations. The reconcile loop runs Step; the API and the metrics read under
// mu, which is only ever held for short critical sections without I/O: the step does its walk,
// its pricing and its store writes holding stepMu alone, and installs what it computed under mu
// in one swap.
type Tracker struct {
	log   *slog.Logger
	store *store.Store
	stats *stats.Requests
	reg   *fleet.Registry
	Gate  *Gate
	// started is when the tracker was made: rollups from then on are all in memory.
	started time.Time
	// cfgSeq orders the configuration writes (prices, budgets): each takes the next number in
	// its store transaction, and installs its value in memory only over an older one, so memory
	// ends as the store does whatever the order in which concurrent writers get mu.
	cfgSeq atomic.Uint64

	// stepMu serializes steps. The fields under it belong to the step: only Step reads and
	// writes them, holding stepMu (not mu).
	stepMu        sync.Mutex
	marks         map[string]time.Time
	tokensThrough int64
	unpricedLog   map[string]string // node id → why its host cost is unknown, as last logged
	usage         map[usageKey]*usageHists
	usageRecs     []usageRecord // the last step's usage writes, reused by the next
	lastSeq       map[string]uint64
	tokenCache    tokenCache
	cachePrices   uint64 // the pricesSeq tokenCache was priced with
	// midStepForTest, when set, runs in every step after its budgets are evaluated and before
	// their standings are installed, holding stepMu only.
	midStepForTest func()

	// mu guards the fields below. What they hold is replaced whole, never changed once
	// installed (the price table, each budget and standing, each hour aggregate, the maps of
	// totals, rates and unpriced nodes), so a reader may take a reference under mu and read it
	// after; the budgets, states and hours maps themselves change under mu.
	mu        sync.Mutex
	prices    cost.Table
	pricesSeq uint64 // cfgSeq of the table in force (0: loaded by New)
	budgets   map[string]*fleetv1.Budget
	budgetSeq map[string]uint64 // cfgSeq of each name's last set or delete
	states    map[string]*fleetv1.BudgetStatus
	// hours, totals, modelTotals, hostRate and unpriced are written by the step only, under
	// mu; the step reads them without mu.
	hours       map[int64]*hourAgg
	unpriced    map[string]string // unpricedLog as of the last step
	hostRate    map[string]float64
	totals      map[[2]string]float64 // (pool, "host"|"tokens") → USD accrued since start
	modelTotals map[string]float64
	recs        []cost.Recommendation
	recsAt      time.Time
}

// New loads the price table, budgets, watermarks and recent hourly spend.
func New(log *slog.Logger, st *store.Store, stats *stats.Requests, reg *fleet.Registry, now time.Time) (*Tracker, error) {
	c := &Tracker{
		log: log, store: st, stats: stats, reg: reg, Gate: newBudgetGate(), started: now,
		prices:  cost.Table{Instances: map[string]cost.InstancePrice{}, Models: map[string]cost.ModelPrice{}},
		budgets: map[string]*fleetv1.Budget{}, budgetSeq: map[string]uint64{}, states: map[string]*fleetv1.BudgetStatus{},
		hours: map[int64]*hourAgg{}, marks: map[string]time.Time{}, unpriced: map[string]string{}, unpricedLog: map[string]string{},
		hostRate: map[string]float64{}, totals: map[[2]string]float64{}, modelTotals: map[string]float64{},
		usage: map[usageKey]*usageHists{}, lastSeq: map[string]uint64{},
		tokenCache: tokenCache{byNodeHour: map[nodeHour]cachedHour{}},
	}
	err := st.View(func(tx *store.Tx) error {
		if raw := tx.Bucket(store.CostPrices).Get(keyPriceTable); raw != nil {
			p := &fleetv1.Prices{}
			if err := proto.Unmarshal(raw, p); err != nil {
				return fmt.Errorf("%w: price table: %v", store.ErrCorruptStore, err)
			}
			t, dropped := tableFromProto(p).Sanitized()
			if len(dropped) > 0 {
				log.Error("stored price table holds prices out of their bounds (not finite, negative or too large); they are left out until set again with fleetctl cost prices set",
					"dropped", strings.Join(dropped, ", "))
			}
			c.prices = t
		}
		if err := store.EachProto(tx.Bucket(store.CostBudgets), "budget", func(_ []byte, b *fleetv1.Budget) error {
			c.budgets[b.GetName()] = b
			return nil
		}); err != nil {
			return err
		}
		if err := store.EachProto(tx.Bucket(store.CostBudgetState), "budget state", func(k []byte, s *fleetv1.BudgetStatus) error {
			c.states[string(k)] = s
			return nil
		}); err != nil {
			return err
		}
		if err := tx.Bucket(store.CostMarks).ForEach(func(k, v []byte) error {
			if len(v) != 8 {
				return fmt.Errorf("%w: cost mark %q", store.ErrCorruptStore, k)
			}
			if string(k) == string(keyTokensThrough) {
				c.tokensThrough = int64(binary.BigEndian.Uint64(v))
			} else {
				c.marks[string(k)] = time.Unix(0, int64(binary.BigEndian.Uint64(v)))
			}
			return nil
		}); err != nil {
			return err
		}
		return scanLedger(tx, hourOf(now)-hoursInMemory, math.MaxInt64, func(key ledgerKey, a cost.Amount) {
			agg := c.hours[key.hour]
			if agg == nil {
				agg = newHourAgg()
				c.hours[key.hour] = agg
			}
			agg.add(key, a)
		})
	})
	if err != nil {
		return nil, err
	}
	if err := dropNonFinite(log, st, hourOf(now)-hoursInMemory); err != nil {
		return nil, err
	}
	for _, b := range c.budgets {
		if bb, loc, err := BudgetFromProto(b); err == nil {
			c.Gate.sync(bb, loc, c.spend(bb, loc, now).USD, now)
		}
	}
	return c, nil
}

// hostOf is the cost model's view of a node's host.
func hostOf(n *fleetv1.Node) (cost.Host, error) {
	if p, ok := purchaseOf(n); ok {
		return cost.Host{InstanceType: n.GetInstanceType(), Purchase: p, ExplicitHourly: n.GetHourlyPrice()}, nil
	}
	p, err := cost.ParsePurchase(n.GetLabels()[purchaseLabel])
	if err != nil {
		return cost.Host{}, fmt.Errorf("%w: label %s=%q is not on-demand, spot or reserved", cost.ErrUnknownPrice, purchaseLabel, n.GetLabels()[purchaseLabel])
	}
	return cost.Host{InstanceType: n.GetInstanceType(), Purchase: p, ExplicitHourly: n.GetHourlyPrice()}, nil
}

// hostState maps a node state to what host accrual needs.
func hostState(s fleetv1.NodeState) cost.HostState {
	switch {
	case fleet.Connected(s):
		return cost.Connected
	case s == fleetv1.NodeState_NODE_STATE_DISCONNECTED:
		return cost.Disconnected
	}
	return cost.Down
}

// Step is the reconcile loop's cost step: accrue host cost up to now, recompute recent token
// cost, sample usage, evaluate budgets and refresh the hard-budget gate. A node's state is read
// once per step: the time since the previous step is billed by the state the node is in now, so
// a state change counts from the first step that sees it (at most one reconcile interval off).
//
// A step works with the price table in force when it starts: a table set while it runs is
// used from the next step on, which reprices the token hours it recomputes (the current and
// the last hour). Budgets likewise are evaluated as they were when the step started; a budget
// set or deleted meanwhile keeps what SetBudget or DeleteBudget made of it.
func (c *Tracker) Step(_ context.Context, now time.Time) error {
	c.stepMu.Lock()
	defer c.stepMu.Unlock()
	nodes := c.reg.ListShared()
	c.mu.Lock()
	prices, pricesSeq := c.prices, c.pricesSeq
	recsDue := now.Sub(c.recsAt) >= recsEvery
	c.mu.Unlock()
	if pricesSeq != c.cachePrices {
		clear(c.tokenCache.byNodeHour)
		c.cachePrices = pricesSeq
	}
	if err := c.accrue(nodes, prices, now); err != nil {
		return err
	}
	c.Gate.expire(now)
	c.Gate.setEstimates(c.estimates(now))
	if err := c.evaluateBudgets(now); err != nil {
		return err
	}
	if recsDue {
		if _, _, err := c.recommend(nodes, prices, now); err != nil {
			return err
		}
	}
	return nil
}

// accrue writes the host time since each node's watermark, the recomputed token cost of the
// recent hours and the usage samples in one transaction, with the new watermarks, so a restart
// neither loses nor counts anything twice; then it installs the new hour aggregates and totals.
func (c *Tracker) accrue(nodes []*fleetv1.Node, prices cost.Table, now time.Time) error {
	hostAdds := make(map[ledgerKey]cost.Amount, len(nodes))
	marks := make([]nodeMark, 0, len(nodes))
	rates := map[string]float64{}
	unpricedChanged := false
	for _, n := range nodes {
		id := n.GetId()
		state := hostState(n.GetState())
		c.sampleUsage(n, now)
		if !state.Billed() {
			marks = append(marks, nodeMark{id, now})
			if _, ok := c.unpricedLog[id]; ok {
				delete(c.unpricedLog, id)
				unpricedChanged = true
			}
			continue
		}
		host, err := hostOf(n)
		var hourly float64
		if err == nil {
			hourly, err = prices.HostHourly(host)
		}
		if c.warnUnpriced(n, err) {
			unpricedChanged = true
		}
		if err == nil {
			rates[n.GetPool()] += hourly
		}
		var since time.Time
		if n.GetConnectedSince() != nil {
			since = n.GetConnectedSince().AsTime()
		}
		mark, seen := c.marks[id]
		from, gap := cost.AccrualStart(mark, since, now, hostMaxGap)
		if gap > 0 && seen {
			c.log.Warn("host cost not accrued for a gap longer than the accrual bound (control plane stopped?)",
				"node", id, "gap", gap.Round(time.Second), "bound", hostMaxGap)
		}
		capacity := "" // reported as unknown
		if err == nil {
			capacity = capacityName(host.Purchase)
		}
		for _, ha := range cost.AccrueHost(hourly, err == nil, from, now) {
			k := ledgerKey{hour: hourOf(ha.Hour), pool: n.GetPool(), node: id, dim: cost.DimHost, name: capacity}
			sum := hostAdds[k]
			sum.Add(ha.Amount)
			hostAdds[k] = sum
		}
		marks = append(marks, nodeMark{id, now})
	}
	slices.SortFunc(marks, func(a, b nodeMark) int { return strings.Compare(a.id, b.id) })

	first := min(c.tokensThrough, hourOf(now.Add(-lateReports)))
	if c.tokensThrough == 0 {
		first = hourOf(now.Add(-lateReports))
	}
	first = max(first, hourOf(now.Add(-c.stats.Retention())))
	last := hourOf(now)
	memFrom := max(c.started.Unix()/60, now.Unix()/60-stats.MemoryMinutes+2)
	entries, err := c.tokenCache.entries(func(fn func(stats.RollupKey, reqstats.Window)) error {
		return c.stats.EachRollupBetween(first*60, last*60+59, memFrom, fn)
	}, prices)
	if err != nil {
		return err
	}
	c.usageRecs = c.dirtyUsage(c.usageRecs)
	var delta tokenDelta
	err = c.store.Update(func(tx *store.Tx) error {
		var err error
		if delta, err = writeLedger(tx, hostAdds, first, last, entries); err != nil {
			return err
		}
		mb := tx.Bucket(store.CostMarks)
		for _, m := range marks {
			if err := mb.Put([]byte(m.id), binary.BigEndian.AppendUint64(nil, uint64(m.t.UnixNano()))); err != nil {
				return err
			}
		}
		if err := mb.Put(keyTokensThrough, binary.BigEndian.AppendUint64(nil, uint64(last))); err != nil {
			return err
		}
		return putUsage(tx, c.usageRecs)
	})
	if err != nil {
		return fmt.Errorf("write the cost ledger: %w", err)
	}
	for _, m := range marks {
		c.marks[m.id] = m.t
	}
	c.tokensThrough = last
	c.install(c.nextHours(hostAdds, first, last, entries, delta), rates, unpricedChanged, now)
	return nil
}

// nodeMark is a node's new host watermark.
type nodeMark struct {
	id string
	t  time.Time
}

// nextHours are the step's new aggregates and totals, built from copies of the installed ones.
type nextHours struct {
	hours       map[int64]*hourAgg // the hours the step changed
	totals      map[[2]string]float64
	modelTotals map[string]float64
}

// nextHours builds the aggregates of the hours the host additions and the token entries of
// [first, last] change, and the new totals, leaving the installed ones untouched.
func (c *Tracker) nextHours(hostAdds map[ledgerKey]cost.Amount, first, last int64, entries tokenSet, delta tokenDelta) nextHours {
	next := nextHours{hours: map[int64]*hourAgg{}, totals: maps.Clone(c.totals), modelTotals: maps.Clone(c.modelTotals)}
	if next.totals == nil {
		next.totals = map[[2]string]float64{}
	}
	if next.modelTotals == nil {
		next.modelTotals = map[string]float64{}
	}
	hour := func(h int64) *hourAgg {
		a := next.hours[h]
		if a == nil {
			a = c.hours[h].clone()
			next.hours[h] = a
		}
		return a
	}
	for k, a := range hostAdds {
		hour(k.hour).add(k, a)
		next.totals[[2]string{k.pool, "host"}] += a.USD
	}
	for h := first; h <= last; h++ {
		if c.hours[h] != nil || next.hours[h] != nil {
			a := hour(h)
			a.tokens, a.models, a.programs = map[string]cost.Amount{}, map[string]cost.Amount{}, map[string]cost.Amount{}
		}
	}
	for nh, es := range entries {
		agg := hour(nh.hour)
		for k, a := range es {
			agg.add(k, a)
		}
	}
	for pool, usd := range delta.pools {
		next.totals[[2]string{pool, "tokens"}] += usd
	}
	for model, usd := range delta.models {
		next.modelTotals[model] += usd
	}
	return next
}

// install swaps in the step's new aggregates, totals and rates, forgetting hours past the
// longest budget period.
func (c *Tracker) install(next nextHours, rates map[string]float64, unpricedChanged bool, now time.Time) {
	var unpriced map[string]string
	if unpricedChanged {
		unpriced = maps.Clone(c.unpricedLog)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for h, a := range next.hours {
		c.hours[h] = a
	}
	for h := range c.hours {
		if h < hourOf(now)-hoursInMemory {
			delete(c.hours, h)
		}
	}
	c.totals, c.modelTotals, c.hostRate = next.totals, next.modelTotals, rates
	if unpricedChanged {
		c.unpriced = unpriced
	}
}

// warnUnpriced logs once per node (and again when the reason changes) that its host cost is
// unknown, or that it is known again, and reports whether the node's entry changed.
func (c *Tracker) warnUnpriced(n *fleetv1.Node, err error) bool {
	id := n.GetId()
	prev, had := c.unpricedLog[id]
	switch {
	case err != nil && prev != err.Error():
		c.unpricedLog[id] = err.Error()
		c.log.Warn("host cost of node is unknown; it is reported as unknown, not 0", "node", id, "pool", n.GetPool(), "reason", err)
		return true
	case err == nil && had:
		delete(c.unpricedLog, id)
		c.log.Info("host cost of node is known again", "node", id, "pool", n.GetPool())
		return true
	}
	return false
}

// ratesLocked returns token cost per hour by pool and by model over the current and the last
// hour.
func (c *Tracker) ratesLocked(now time.Time) (byPool, byModel map[string]float64) {
	byPool, byModel = map[string]float64{}, map[string]float64{}
	from := now.UTC().Truncate(time.Hour).Add(-time.Hour)
	elapsed := now.Sub(from).Hours()
	for _, h := range []int64{hourOf(from), hourOf(now)} {
		agg := c.hours[h]
		if agg == nil {
			continue
		}
		for pool, a := range agg.tokens {
			byPool[pool] += a.USD / elapsed
		}
		for model, a := range agg.models {
			byModel[model] += a.USD / elapsed
		}
	}
	return byPool, byModel
}
