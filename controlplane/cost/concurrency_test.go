package cost

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dspyfleet/dspyfleet/pkg/cost"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// doubledPrices is ledgerPrices with every price doubled.
var doubledPrices = cost.Table{
	Instances: map[string]cost.InstancePrice{"m.large": {OnDemandHourly: 7.2, SpotHourly: 3.6}},
	Models:    map[string]cost.ModelPrice{"table-model": {InputPerMTok: 20, OutputPerMTok: 60}},
}

func setPrices(t *testing.T, c *Tracker, tab cost.Table) {
	t.Helper()
	raw, err := proto.Marshal(TableToProto(tab))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SetPrices(tab, raw); err != nil {
		t.Error(err)
	}
}

func (r *ledgerRig) step() {
	r.t.Helper()
	r.now = r.now.Add(10 * time.Second)
	if err := r.c.Step(context.Background(), r.now); err != nil {
		r.t.Fatal(err)
	}
}

// TestSetPricesMidStep: a price table set while a step runs is in force for the API at once;
// the step finishes with the table it started with, and the next step bills host time at the new
// price and reprices the recomputed token hours: the change is neither lost nor half applied.
func TestSetPricesMidStep(t *testing.T) {
	start := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	r := newLedgerRig(t, start, []*fleetv1.Node{
		{Id: "n1", Pool: "a", InstanceType: "m.large", State: fleetv1.NodeState_NODE_STATE_READY, ConnectedSince: timestamppb.New(start)},
	})
	r.traffic("a", "n1", 1, tabledEvent("sum"))
	r.step()
	set := false
	r.c.midStepForTest = func() {
		if !set {
			set = true
			setPrices(t, r.c, doubledPrices)
			if got := r.c.PricesProto().GetModels()[0].GetInputPerMtok(); got != 20 {
				t.Errorf("price table read during the step has input %v per Mtok; want the new 20", got)
			}
		}
	}
	r.step() // the table changes during this step
	lines := r.report(fleetv1.CostGroupBy_COST_GROUP_BY_NODE)
	if got, want := lines["n1"].GetHostUsd(), 3.6*(20*time.Second).Hours(); !approx(got, want) {
		t.Fatalf("host cost after the step the prices changed in: %v; want %v (the old price)", got, want)
	}
	if got := lines["n1"].GetTokenUsd(); !approx(got, 1.3) {
		t.Fatalf("token cost after the step the prices changed in: %v; want 1.3 (the old price)", got)
	}
	r.step()
	lines = r.report(fleetv1.CostGroupBy_COST_GROUP_BY_NODE)
	if got, want := lines["n1"].GetHostUsd(), 3.6*(20*time.Second).Hours()+7.2*(10*time.Second).Hours(); !approx(got, want) {
		t.Fatalf("host cost after the next step: %v; want %v (its 10 s at the new price)", got, want)
	}
	if got := lines["n1"].GetTokenUsd(); !approx(got, 2.6) {
		t.Fatalf("token cost after the next step: %v; want 2.6 (repriced)", got)
	}
}

// TestDeleteBudgetMidStep: a budget deleted while a step evaluates it gets no standing, no
// stored state and no place in the hard-budget gate from that step.
func TestDeleteBudgetMidStep(t *testing.T) {
	start := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	r := newLedgerRig(t, start, []*fleetv1.Node{
		{Id: "n1", Pool: "a", InstanceType: "m.large", State: fleetv1.NodeState_NODE_STATE_READY, ConnectedSince: timestamppb.New(start)},
	})
	// 50 % of the limit is spent in the first step, so the step stores a fired threshold.
	limit := 3.6 * (10 * time.Second).Hours() / 0.6
	if _, err := r.c.SetBudget(&fleetv1.Budget{Name: "a", Period: fleetv1.BudgetPeriod_BUDGET_PERIOD_DAILY, LimitUsd: limit, Pool: "a", Hard: true, Thresholds: []float64{0.5}}, r.now); err != nil {
		t.Fatal(err)
	}
	r.c.midStepForTest = func() {
		r.c.midStepForTest = nil
		if err := r.c.DeleteBudget("a"); err != nil {
			t.Error(err)
		}
	}
	r.step()
	if _, ok := r.c.Gate.committed("a"); ok {
		t.Fatal("the deleted hard budget is back in the gate")
	}
	r.c.mu.Lock()
	_, ok := r.c.states["a"]
	r.c.mu.Unlock()
	if ok {
		t.Fatal("the deleted budget has a standing")
	}
	r.restart(0)
	if resp, err := r.c.ListBudgets(); err != nil || len(resp.GetBudgets()) != 0 || len(r.c.states) != 0 {
		t.Fatalf("after a restart: budgets %v, states %v, err %v; want none", resp.GetBudgets(), r.c.states, err)
	}
}

// TestReadsDuringSteps runs the cost API and a metrics collection while steps run and the
// prices and budgets change (run with -race): every read sees a whole state, and after the last
// change one step brings everything to it.
func TestReadsDuringSteps(t *testing.T) {
	start := time.Date(2026, 11, 27, 10, 55, 0, 0, time.UTC)
	r := newLedgerRig(t, start, []*fleetv1.Node{
		{Id: "n1", Pool: "a", InstanceType: "m.large", State: fleetv1.NodeState_NODE_STATE_READY, ConnectedSince: timestamppb.New(start)},
		{Id: "n2", Pool: "b", InstanceType: "m.large", State: fleetv1.NodeState_NODE_STATE_READY, ConnectedSince: timestamppb.New(start)},
	})
	r.traffic("a", "n1", 1, tabledEvent("sum"))
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(&Collector{Tracker: r.c, Now: func() time.Time { return start }})
	steps := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(steps)
		for range 60 { // across an hour
			r.step()
		}
	})
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-steps:
				return
			default:
			}
			tab := ledgerPrices
			if i%2 == 0 {
				tab = doubledPrices
			}
			setPrices(t, r.c, tab)
			if _, err := r.c.SetBudget(&fleetv1.Budget{Name: "b", Period: fleetv1.BudgetPeriod_BUDGET_PERIOD_DAILY, LimitUsd: 1, Pool: "b", Hard: i%2 == 0}, start); err != nil {
				t.Error(err)
			}
		}
	})
	wg.Go(func() {
		for {
			select {
			case <-steps:
				return
			default:
			}
			if _, err := r.c.ListBudgets(); err != nil {
				t.Error(err)
			}
			if _, err := r.c.Report(start, start.Add(2*time.Hour), fleetv1.CostGroupBy_COST_GROUP_BY_POOL, ""); err != nil {
				t.Error(err)
			}
			if _, err := reg.Gather(); err != nil {
				t.Error(err)
			}
			if _, err := r.c.ListRecs(true, start); err != nil {
				t.Error(err)
			}
			r.c.PricesProto()
		}
	})
	wg.Wait()
	setPrices(t, r.c, doubledPrices)
	r.step()
	if got := r.report(fleetv1.CostGroupBy_COST_GROUP_BY_MODEL)["table-model"].GetTokenUsd(); !approx(got, 2.6) {
		t.Fatalf("token cost %v after the last price change and a step; want 2.6", got)
	}
	resp, err := r.c.ListBudgets()
	if err != nil || len(resp.GetBudgets()) != 1 || resp.GetBudgets()[0].GetPeriodStart() == nil {
		t.Fatalf("budgets %v, err %v; want b with its standing", resp.GetBudgets(), err)
	}
}
