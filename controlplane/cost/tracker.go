package cost

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/dspyfleet/dspyfleet/controlplane/fleet"
	"github.com/dspyfleet/dspyfleet/controlplane/stats"
	"github.com/dspyfleet/dspyfleet/controlplane/store"
	"github.com/dspyfleet/dspyfleet/pkg/cost"
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
// and draws recommendations. The reconcile loop runs step; the API reads under mu.
type Tracker struct {
	log   *slog.Logger
	store *store.Store
	stats *stats.Requests
	reg   *fleet.Registry
	Gate  *Gate
	// started is when the tracker was made: rollups from then on are all in memory.
	started time.Time

	mu            sync.Mutex
	prices        cost.Table
	budgets       map[string]*fleetv1.Budget
	states        map[string]*fleetv1.BudgetStatus
	hours         map[int64]*hourAgg
	marks         map[string]time.Time
	tokensThrough int64
	unpriced      map[string]string // node id → why its host cost is unknown, as last logged
	hostRate      map[string]float64
	totals        map[[2]string]float64 // (pool, "host"|"tokens") → USD accrued since start
	modelTotals   map[string]float64
	usage         map[usageKey]*usageHists
	lastSeq       map[string]uint64
	recs          []cost.Recommendation
	recsAt        time.Time
	tokenCache    tokenCache
}

// New loads the price table, budgets, watermarks and recent hourly spend.
func New(log *slog.Logger, st *store.Store, stats *stats.Requests, reg *fleet.Registry, now time.Time) (*Tracker, error) {
	c := &Tracker{
		log: log, store: st, stats: stats, reg: reg, Gate: newBudgetGate(), started: now,
		prices:  cost.Table{Instances: map[string]cost.InstancePrice{}, Models: map[string]cost.ModelPrice{}},
		budgets: map[string]*fleetv1.Budget{}, states: map[string]*fleetv1.BudgetStatus{},
		hours: map[int64]*hourAgg{}, marks: map[string]time.Time{}, unpriced: map[string]string{},
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
			c.prices = tableFromProto(p)
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
			c.hourLocked(key.hour).add(key, a)
		})
	})
	if err != nil {
		return nil, err
	}
	for _, b := range c.budgets {
		if bb, loc, err := BudgetFromProto(b); err == nil {
			c.Gate.sync(bb, loc, c.spendLocked(bb, loc, now).USD, now)
		}
	}
	return c, nil
}

// hourLocked returns the aggregate of unix hour h, creating it.
func (c *Tracker) hourLocked(h int64) *hourAgg {
	a := c.hours[h]
	if a == nil {
		a = newHourAgg()
		c.hours[h] = a
	}
	return a
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
func (c *Tracker) Step(_ context.Context, now time.Time) error {
	nodes := c.reg.ListShared()
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.accrueLocked(nodes, now); err != nil {
		return err
	}
	c.Gate.expire(now)
	c.Gate.setEstimates(c.estimatesLocked(now))
	if err := c.evaluateBudgetsLocked(now); err != nil {
		return err
	}
	if now.Sub(c.recsAt) >= recsEvery {
		if err := c.recommendLocked(nodes, now); err != nil {
			return err
		}
	}
	for h := range c.hours {
		if h < hourOf(now)-hoursInMemory {
			delete(c.hours, h)
		}
	}
	return nil
}

// accrueLocked writes the host time since each node's watermark, the recomputed token cost of
// the recent hours and the usage samples in one transaction, with the new watermarks, so a
// restart neither loses nor counts anything twice.
func (c *Tracker) accrueLocked(nodes []*fleetv1.Node, now time.Time) error {
	hostAdds := map[ledgerKey]cost.Amount{}
	marks := map[string]time.Time{}
	rates := map[string]float64{}
	for _, n := range nodes {
		id := n.GetId()
		state := hostState(n.GetState())
		c.sampleUsageLocked(n, now)
		if !state.Billed() {
			marks[id] = now
			delete(c.unpriced, id)
			continue
		}
		host, err := hostOf(n)
		var hourly float64
		if err == nil {
			hourly, err = c.prices.HostHourly(host)
		}
		c.warnUnpricedLocked(n, err)
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
		marks[id] = now
	}
	c.hostRate = rates

	first := min(c.tokensThrough, hourOf(now.Add(-lateReports)))
	if c.tokensThrough == 0 {
		first = hourOf(now.Add(-lateReports))
	}
	first = max(first, hourOf(now.Add(-c.stats.Retention())))
	last := hourOf(now)
	memFrom := max(c.started.Unix()/60, now.Unix()/60-stats.MemoryMinutes+2)
	mins, err := c.stats.RollupsBetween(first*60, last*60+59, memFrom)
	if err != nil {
		return err
	}
	entries := c.tokenCache.entries(mins, c.prices)
	usage := c.dirtyUsageLocked()
	var delta map[ledgerKey]cost.Amount
	err = c.store.Update(func(tx *store.Tx) error {
		b := tx.Bucket(store.CostLedger)
		for k, add := range hostAdds {
			kb := k.encode()
			sum := add
			if v := b.Get(kb); v != nil {
				prev, err := decodeAmount(v)
				if err != nil {
					return err
				}
				sum.Add(prev)
			}
			if err := b.Put(kb, encodeAmount(sum)); err != nil {
				return err
			}
		}
		var err error
		if delta, err = replaceTokenHours(tx, first, last, entries); err != nil {
			return err
		}
		mb := tx.Bucket(store.CostMarks)
		for id, t := range marks {
			if err := mb.Put([]byte(id), binary.BigEndian.AppendUint64(nil, uint64(t.UnixNano()))); err != nil {
				return err
			}
		}
		if err := mb.Put(keyTokensThrough, binary.BigEndian.AppendUint64(nil, uint64(last))); err != nil {
			return err
		}
		return putUsage(tx, usage)
	})
	if err != nil {
		return fmt.Errorf("write the cost ledger: %w", err)
	}
	for id, t := range marks {
		c.marks[id] = t
	}
	c.tokensThrough = last
	for k, a := range hostAdds {
		c.hourLocked(k.hour).add(k, a)
		c.totals[[2]string{k.pool, "host"}] += a.USD
	}
	for h := first; h <= last; h++ {
		if agg := c.hours[h]; agg != nil {
			agg.tokens, agg.models, agg.programs = map[string]cost.Amount{}, map[string]cost.Amount{}, map[string]cost.Amount{}
		}
	}
	for k, a := range entries {
		c.hourLocked(k.hour).add(k, a)
	}
	for k, d := range delta {
		if k.dim == cost.DimModel {
			c.totals[[2]string{k.pool, "tokens"}] += d.USD
			c.modelTotals[k.name] += d.USD
		}
	}
	return nil
}

// warnUnpricedLocked logs once per node (and again when the reason changes) that its host cost
// is unknown, or that it is known again.
func (c *Tracker) warnUnpricedLocked(n *fleetv1.Node, err error) {
	id := n.GetId()
	prev, had := c.unpriced[id]
	switch {
	case err != nil && prev != err.Error():
		c.unpriced[id] = err.Error()
		c.log.Warn("host cost of node is unknown; it is reported as unknown, not 0", "node", id, "pool", n.GetPool(), "reason", err)
	case err == nil && had:
		delete(c.unpriced, id)
		c.log.Info("host cost of node is known again", "node", id, "pool", n.GetPool())
	}
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
