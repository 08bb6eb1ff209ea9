package api

import (
	"context"
	"maps"
	"slices"
	"time"

	"github.com/dspyfleet/dspyfleet/controlplane/check"
	"github.com/dspyfleet/dspyfleet/controlplane/stats"
	"github.com/dspyfleet/dspyfleet/pkg/reqstats"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// defaultStatsWindow is GetPoolStats' window when the request names none.
const defaultStatsWindow = 5 * time.Minute

// GetPoolStats merges the pool's one-minute rollups over the window: counts add, latency
// sketches merge (percentiles are never averaged), models and programs are cut to the top ten.
func (f *fleetService) GetPoolStats(_ context.Context, req *fleetv1.GetPoolStatsRequest) (*fleetv1.GetPoolStatsResponse, error) {
	pool := req.GetPool()
	if pool == "" {
		pool = check.DefaultPool
	}
	if !check.ValidID(pool) {
		return nil, check.ToStatus(check.Invalidf("pool: %q is not a valid pool name (1-63 letters, digits, '.', '_' or '-')", check.Truncate(pool)))
	}
	window := defaultStatsWindow
	if w := req.GetWindow(); w != nil {
		window = w.AsDuration()
		if !w.IsValid() || window < time.Minute || window > f.stats.Retention() {
			return nil, check.ToStatus(check.Invalidf("window: %s must be between 1m and the rollup retention %s", window, f.stats.Retention()))
		}
	}
	now := f.stats.Now()
	from := now.Add(-window)
	byNode, err := f.stats.Window(pool, from)
	if err != nil {
		return nil, check.ToStatus(err)
	}
	inFlight := f.reg.InFlight(pool)
	resp := &fleetv1.GetPoolStatsResponse{}
	var all []reqstats.Window
	var poolInFlight uint32
	for _, n := range inFlight {
		poolInFlight += n
	}
	for _, node := range slices.Sorted(maps.Keys(byNode)) {
		w, err := reqstats.MergeWindows(stats.TopN, byNode[node]...)
		if err != nil {
			return nil, check.ToStatus(err)
		}
		w.Start, w.End = from, now
		all = append(all, w)
		resp.Nodes = append(resp.Nodes, stats.ToRequestStats(node, w, inFlight[node]))
	}
	total := reqstats.Window{Start: from, End: now}
	if len(all) > 0 {
		if total, err = reqstats.MergeWindows(stats.TopN, all...); err != nil {
			return nil, check.ToStatus(err)
		}
	}
	total.Start, total.End = from, now
	resp.Pool = stats.ToRequestStats(pool, total, poolInFlight)
	return resp, nil
}
