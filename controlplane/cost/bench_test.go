package cost

import (
	"context"
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dspyfleet/dspyfleet/pkg/reqstats"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// BenchmarkCostStep measures one reconcile cost step for a fleet of 200 nodes, each with an hour
// of one-minute rollups of 3 models and 5 programs to recompute, and 2 budgets.
func BenchmarkCostStep(b *testing.B) {
	start := time.Date(2026, 11, 27, 10, 30, 0, 0, time.UTC)
	var nodes []*fleetv1.Node
	for i := range 200 {
		nodes = append(nodes, &fleetv1.Node{Id: fmt.Sprintf("n%03d", i), Pool: fmt.Sprintf("p%d", i%4), InstanceType: "m.large",
			State: fleetv1.NodeState_NODE_STATE_READY, ConnectedSince: timestamppb.New(start.Add(-time.Hour))})
	}
	r := newLedgerRig(b, start.Add(-time.Hour), nodes)
	for m := range 60 {
		r.now = start.Add(time.Duration(m-60) * time.Minute)
		for i, n := range nodes {
			var evs []reqstats.Event
			for k := range 8 {
				evs = append(evs, reqstats.Event{Program: fmt.Sprintf("prog%d", k%5), Model: fmt.Sprintf("model%d", k%3), InputTokens: 1000, OutputTokens: 100, Latency: time.Millisecond})
			}
			r.traffic(n.GetPool(), n.GetId(), uint64(m*1000+i+1), evs...)
		}
	}
	r.now = start
	for _, bu := range []*fleetv1.Budget{
		{Name: "fleet", Period: fleetv1.BudgetPeriod_BUDGET_PERIOD_MONTHLY, LimitUsd: 1e6},
		{Name: "p0", Period: fleetv1.BudgetPeriod_BUDGET_PERIOD_DAILY, LimitUsd: 1e4, Pool: "p0", Hard: true},
	} {
		if _, err := r.c.SetBudget(bu, r.now); err != nil {
			b.Fatal(err)
		}
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		r.now = r.now.Add(5 * time.Second)
		if err := r.c.Step(ctx, r.now); err != nil {
			b.Fatal(err)
		}
	}
}
