package cost

import (
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"time"
	_ "time/tzdata" // budgets name IANA zones; hosts without tzdata still resolve them

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dspyfleet/dspyfleet/controlplane/check"
	"github.com/dspyfleet/dspyfleet/controlplane/fleet"
	"github.com/dspyfleet/dspyfleet/controlplane/store"
	"github.com/dspyfleet/dspyfleet/pkg/cost"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// Budget event retention.
const (
	// maxBudgetEvents is how many budget events are kept; older ones are deleted.
	maxBudgetEvents = 1000
	// listedBudgetEvents is how many of the newest events ListBudgets returns.
	listedBudgetEvents = 50
)

var periodsFromProto = map[fleetv1.BudgetPeriod]cost.Period{
	fleetv1.BudgetPeriod_BUDGET_PERIOD_DAILY:   cost.Daily,
	fleetv1.BudgetPeriod_BUDGET_PERIOD_WEEKLY:  cost.Weekly,
	fleetv1.BudgetPeriod_BUDGET_PERIOD_MONTHLY: cost.Monthly,
}

// BudgetFromProto validates an API budget and converts it, with its time zone. Every bad field
// is named, prefixed "budget.".
func BudgetFromProto(b *fleetv1.Budget) (cost.Budget, *time.Location, error) {
	out := cost.Budget{
		Name: b.GetName(), Period: periodsFromProto[b.GetPeriod()], LimitUSD: b.GetLimitUsd(),
		Pool: b.GetPool(), Program: b.GetProgram(), Thresholds: b.GetThresholds(), Hard: b.GetHard(), FallbackPool: b.GetFallbackPool(),
		CapacityType: capacityBudgetName(b.GetCapacityType()),
	}
	var v check.Violations
	if err := out.Validate(); err != nil {
		if fe, ok := err.(cost.FieldErrors); ok {
			for _, e := range fe {
				v.Add("budget."+e.Field, "%s", e.Message)
			}
		}
	}
	if !check.ValidID(b.GetName()) {
		v.Add("budget.name", "%q must be 1-63 letters, digits, '.', '_' or '-'", check.Truncate(b.GetName()))
	}
	for _, p := range []struct{ field, name string }{{"budget.pool", b.GetPool()}, {"budget.fallback_pool", b.GetFallbackPool()}} {
		if p.name != "" && !check.ValidID(p.name) {
			v.Add(p.field, "%q is not a valid pool name (1-63 letters, digits, '.', '_' or '-')", check.Truncate(p.name))
		}
	}
	loc := time.UTC
	if z := b.GetTimeZone(); z != "" {
		l, err := time.LoadLocation(z)
		if err != nil || z == "Local" {
			v.Add("budget.time_zone", "%q is not an IANA time zone such as Europe/Berlin", check.Truncate(z))
		} else {
			loc = l
		}
	}
	if len(v) > 0 {
		slices.SortStableFunc(v, func(a, b *fleetv1.FieldViolation) int { return fleet.CompareStrings(a.GetField(), b.GetField()) })
		return cost.Budget{}, nil, v.Err()
	}
	return out, loc, nil
}

// spend returns what counts against budget b in its period holding now. It reads the hour
// aggregates: call it holding c.mu, or from the step (their only writer).
func (c *Tracker) spend(b cost.Budget, loc *time.Location, now time.Time) cost.Amount {
	start, _ := b.Period.Bounds(now, loc)
	var sum cost.Amount
	for h := hourOf(start); h <= hourOf(now); h++ {
		if agg := c.hours[h]; agg != nil {
			sum.Add(agg.budgetSpend(b))
		}
	}
	return sum
}

// runRate returns budget b's hourly run rate at now; like spend, with c.mu held or from the
// step.
func (c *Tracker) runRate(b cost.Budget, loc *time.Location, now time.Time) float64 {
	start, _ := b.Period.Bounds(now, loc)
	var hours []cost.HourSpend
	for h := hourOf(now) - 1; h <= hourOf(now); h++ {
		if agg := c.hours[h]; agg != nil {
			hours = append(hours, cost.HourSpend{Hour: hourTime(h), USD: agg.budgetSpend(b).USD})
		}
	}
	return cost.RunRate(hours, now, start)
}

// stateOf converts a stored status to the budget's evaluation state.
func stateOf(s *fleetv1.BudgetStatus) cost.State {
	if s == nil {
		return cost.State{}
	}
	return cost.State{PeriodStart: s.GetPeriodStart().AsTime(), Fired: s.GetFiredThresholds(), ForecastFired: s.GetForecastFired()}
}

// evaluated is one budget as a step evaluated it.
type evaluated struct {
	name   string
	stored *fleetv1.Budget // the definition evaluated, as installed
	b      cost.Budget
	loc    *time.Location
	spend  float64
	status *fleetv1.BudgetStatus
}

// evaluateBudgets evaluates every budget at now, installs the standings and refreshes the
// hard-budget gate, then stores the changed states and records and logs the events. A budget
// deleted meanwhile gets no state; one replaced meanwhile keeps the gate SetBudget gave it.
func (c *Tracker) evaluateBudgets(now time.Time) error {
	c.mu.Lock()
	budgets, prevStates := maps.Clone(c.budgets), maps.Clone(c.states)
	c.mu.Unlock()
	changed := map[string][]byte{}
	var done []evaluated
	var events []*fleetv1.BudgetEvent
	for _, name := range slices.Sorted(maps.Keys(budgets)) {
		pb := budgets[name]
		b, loc, err := BudgetFromProto(pb)
		if err != nil {
			c.log.Error("stored budget is invalid; skipping it", "budget", name, "err", err)
			continue
		}
		spend := c.spend(b, loc, now)
		prev := stateOf(prevStates[name])
		st, status, evs := cost.Evaluate(b, prev, spend.USD, c.runRate(b, loc, now), now, loc)
		ps := &fleetv1.BudgetStatus{
			PeriodStart: timestamppb.New(status.PeriodStart), PeriodEnd: timestamppb.New(status.PeriodEnd),
			SpendUsd: status.SpendUSD, RunRateUsdPerHour: status.RunRatePerHour, ForecastUsd: status.ForecastUSD, Used: status.Used,
			FiredThresholds: st.Fired, ForecastFired: st.ForecastFired, Unknown: spend.Unknown(),
		}
		if !st.PeriodStart.Equal(prev.PeriodStart) || len(st.Fired) != len(prev.Fired) || st.ForecastFired != prev.ForecastFired {
			raw, err := proto.Marshal(&fleetv1.BudgetStatus{PeriodStart: ps.GetPeriodStart(), FiredThresholds: st.Fired, ForecastFired: st.ForecastFired})
			if err != nil {
				return err
			}
			changed[name] = raw
		}
		done = append(done, evaluated{name: name, stored: pb, b: b, loc: loc, spend: spend.USD, status: ps})
		for _, e := range evs {
			ev := &fleetv1.BudgetEvent{
				Budget: name, Kind: e.Kind.String(), Threshold: e.Threshold, SpendUsd: e.SpendUSD, LimitUsd: e.LimitUSD,
				ForecastUsd: e.ForecastUSD, Time: timestamppb.New(e.Time), PeriodStart: timestamppb.New(e.PeriodStart), PeriodEnd: timestamppb.New(e.PeriodEnd),
			}
			events = append(events, ev)
			c.log.Warn("budget alert", "budget", name, "kind", ev.GetKind(), "threshold", e.Threshold,
				"spend_usd", fmt.Sprintf("%.4f", e.SpendUSD), "limit_usd", e.LimitUSD, "forecast_usd", fmt.Sprintf("%.4f", e.ForecastUSD),
				"period_end", e.PeriodEnd.UTC().Format(time.RFC3339))
		}
	}
	if c.midStepForTest != nil {
		c.midStepForTest()
	}
	c.mu.Lock()
	for _, e := range done {
		cur, ok := c.budgets[e.name]
		if !ok {
			continue
		}
		c.states[e.name] = e.status
		if cur == e.stored {
			c.Gate.sync(e.b, e.loc, e.spend, now)
		}
	}
	c.mu.Unlock()
	if len(changed) == 0 && len(events) == 0 {
		return nil
	}
	return c.store.Update(func(tx *store.Tx) error {
		bb, sb := tx.Bucket(store.CostBudgets), tx.Bucket(store.CostBudgetState)
		for _, name := range slices.Sorted(maps.Keys(changed)) {
			if bb.Get([]byte(name)) == nil {
				continue // deleted since the step read it
			}
			if err := sb.Put([]byte(name), changed[name]); err != nil {
				return err
			}
		}
		eb := tx.Bucket(store.CostEvents)
		for i, ev := range events {
			raw, err := proto.Marshal(ev)
			if err != nil {
				return err
			}
			key := binary.BigEndian.AppendUint64(nil, uint64(ev.GetTime().AsTime().UnixNano()+int64(i)))
			if err := eb.Put(append(key, ev.GetBudget()...), raw); err != nil {
				return err
			}
		}
		return pruneOldest(eb, maxBudgetEvents)
	})
}

// SetBudget validates and stores a budget, replacing one of the same name; a changed period or
// limit keeps the fired thresholds of the current period.
func (c *Tracker) SetBudget(b *fleetv1.Budget, now time.Time) (*fleetv1.Budget, error) {
	bb, loc, err := BudgetFromProto(b)
	if err != nil {
		return nil, err
	}
	stored := proto.Clone(b).(*fleetv1.Budget)
	raw, err := proto.Marshal(stored)
	if err != nil {
		return nil, err
	}
	var seq uint64
	if err := c.store.Update(func(tx *store.Tx) error {
		if err := tx.Bucket(store.CostBudgets).Put([]byte(b.GetName()), raw); err != nil {
			return err
		}
		seq = c.cfgSeq.Add(1)
		return nil
	}); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if seq > c.budgetSeq[b.GetName()] {
		c.budgets[b.GetName()] = stored
		c.budgetSeq[b.GetName()] = seq
		c.Gate.sync(bb, loc, c.spend(bb, loc, now).USD, now)
	}
	return proto.Clone(stored).(*fleetv1.Budget), nil
}

// DeleteBudget removes a budget and its state.
func (c *Tracker) DeleteBudget(name string) error {
	c.mu.Lock()
	_, ok := c.budgets[name]
	c.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: no budget named %q; list them with fleetctl cost budgets", check.ErrNotFound, check.Truncate(name))
	}
	var seq uint64
	if err := c.store.Update(func(tx *store.Tx) error {
		if err := tx.Bucket(store.CostBudgets).Delete([]byte(name)); err != nil {
			return err
		}
		if err := tx.Bucket(store.CostBudgetState).Delete([]byte(name)); err != nil {
			return err
		}
		seq = c.cfgSeq.Add(1)
		return nil
	}); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if seq > c.budgetSeq[name] {
		delete(c.budgets, name)
		delete(c.states, name)
		c.budgetSeq[name] = seq
		c.Gate.forget(name)
	}
	return nil
}

// Budget returns a copy of the budget named name, or nil.
func (c *Tracker) Budget(name string) *fleetv1.Budget {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.budgets[name]
	if !ok {
		return nil
	}
	return proto.CloneOf(b)
}

// ListBudgets returns every budget with its standing as of the last step, and the newest events.
func (c *Tracker) ListBudgets() (*fleetv1.ListBudgetsResponse, error) {
	c.mu.Lock()
	resp := &fleetv1.ListBudgetsResponse{}
	for _, name := range slices.Sorted(maps.Keys(c.budgets)) {
		st := &fleetv1.BudgetStatus{}
		if c.states[name] != nil {
			st = proto.Clone(c.states[name]).(*fleetv1.BudgetStatus)
		}
		st.Budget = proto.Clone(c.budgets[name]).(*fleetv1.Budget)
		c.withCommitted(st)
		resp.Budgets = append(resp.Budgets, st)
	}
	c.mu.Unlock()
	err := c.store.View(func(tx *store.Tx) error {
		cur := tx.Bucket(store.CostEvents).Cursor()
		for k, v := cur.Last(); k != nil && len(resp.Events) < listedBudgetEvents; k, v = cur.Prev() {
			ev := &fleetv1.BudgetEvent{}
			if err := proto.Unmarshal(v, ev); err != nil {
				return fmt.Errorf("%w: budget event %x: %v", store.ErrCorruptStore, k, err)
			}
			resp.Events = append(resp.Events, ev)
		}
		return nil
	})
	return resp, err
}

// pruneOldest deletes the first keys of b until at most keep remain.
func pruneOldest(b *store.Bucket, keep int) error {
	return b.DeleteFirst(b.Len() - keep)
}

// withCommitted adds to a hard budget's status what the door holds against it now: spend in
// flight and settled ahead of the ledger count as used. The caller holds c.mu.
func (c *Tracker) withCommitted(st *fleetv1.BudgetStatus) {
	b := st.GetBudget()
	committed, ok := c.Gate.committed(b.GetName())
	if !ok || !b.GetHard() {
		return
	}
	st.CommittedUsd = max(committed, st.GetSpendUsd())
	if lim := b.GetLimitUsd(); lim > 0 {
		st.Used = max(st.GetUsed(), st.GetCommittedUsd()/lim)
	}
}
