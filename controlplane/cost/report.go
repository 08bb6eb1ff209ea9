package cost

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dspyfleet/dspyfleet/controlplane/store"
	"github.com/dspyfleet/dspyfleet/pkg/cost"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// Report range bounds.
const (
	DefaultReportRange = 7 * 24 * time.Hour
	MaxReportRange     = 400 * 24 * time.Hour
)

// reportLine accumulates one line of a report.
type reportLine struct {
	pool        string
	host, token cost.Amount
}

// report reads the ledger hours overlapping [start, end) and groups them.
func (c *Tracker) Report(start, end time.Time, by fleetv1.CostGroupBy, pool string) (*fleetv1.GetReportResponse, error) {
	lines := map[string]*reportLine{}
	first, last := hourOf(start), hourOf(end.Add(-time.Nanosecond))
	err := c.store.View(func(tx *store.Tx) error {
		return scanLedger(tx, first, last, func(key ledgerKey, a cost.Amount) {
			name, ok := groupName(key, by, pool)
			if !ok {
				return
			}
			l := lines[name]
			if l == nil {
				l = &reportLine{pool: key.pool}
				lines[name] = l
			}
			if key.dim == cost.DimHost {
				l.host.Add(a)
			} else {
				l.token.Add(a)
			}
		})
	})
	if err != nil {
		return nil, err
	}
	resp := &fleetv1.GetReportResponse{Start: timestamppb.New(start), End: timestamppb.New(end), GroupBy: by}
	var total reportLine
	for name, l := range lines {
		pl := lineToProto(name, l)
		if by != fleetv1.CostGroupBy_COST_GROUP_BY_NODE {
			pl.Pool = ""
		}
		resp.Lines = append(resp.Lines, pl)
		total.host.Add(l.host)
		total.token.Add(l.token)
	}
	slices.SortFunc(resp.Lines, func(a, b *fleetv1.CostLine) int {
		return cmp.Or(cmp.Compare(b.GetTotalUsd(), a.GetTotalUsd()), cmp.Compare(a.GetName(), b.GetName()))
	})
	resp.Total = lineToProto("total", &total)
	resp.Total.Pool = ""
	c.mu.Lock()
	unpriced := c.unpriced
	c.mu.Unlock()
	for _, id := range slices.Sorted(maps.Keys(unpriced)) {
		resp.Warnings = append(resp.Warnings, fmt.Sprintf("node %s: %s", id, unpriced[id]))
	}
	if total.token.UnpricedTokens > 0 {
		resp.Warnings = append(resp.Warnings, fmt.Sprintf("%d tokens of models without a price (neither the agent's prices nor the price table): their cost is unknown", total.token.UnpricedTokens))
	}
	return resp, nil
}

// groupName is the line (or series) of group by that entry key counts in, false when it
// counts in none: another pool than pool (when set), or a dimension the grouping leaves out.
func groupName(key ledgerKey, by fleetv1.CostGroupBy, pool string) (string, bool) {
	if pool != "" && key.pool != pool {
		return "", false
	}
	switch {
	case by == fleetv1.CostGroupBy_COST_GROUP_BY_POOL && key.dim != cost.DimProgram:
		return key.pool, true
	case by == fleetv1.CostGroupBy_COST_GROUP_BY_NODE && key.dim != cost.DimProgram:
		return key.node, true
	case by == fleetv1.CostGroupBy_COST_GROUP_BY_CAPACITY_TYPE && key.dim == cost.DimHost:
		return capacityLine(key), true
	case by == fleetv1.CostGroupBy_COST_GROUP_BY_MODEL && key.dim == cost.DimModel,
		by == fleetv1.CostGroupBy_COST_GROUP_BY_PROGRAM && key.dim == cost.DimProgram:
		return key.name, true
	}
	return "", false
}

// lineToProto renders one report line.
func lineToProto(name string, l *reportLine) *fleetv1.CostLine {
	t := l.token
	return &fleetv1.CostLine{
		Name: name, Pool: l.pool, HostUsd: l.host.USD, TokenUsd: t.USD, TotalUsd: l.host.USD + t.USD, SavedUsd: t.SavedUSD,
		Requests: t.Requests, CostPerRequestUsd: t.PerRequest(), InputTokens: t.InputTokens, OutputTokens: t.OutputTokens,
		CacheHits: t.CacheHits, CacheMisses: t.CacheMisses, HostHours: l.host.UpSeconds / 3600, UnpricedHostHours: l.host.UnpricedSeconds / 3600,
		UnpricedTokens: t.UnpricedTokens, Unknown: l.host.Unknown() || t.Unknown(),
	}
}
