package controlplane_test

import (
	"context"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/dspyfleet/dspyfleet/internal/fleettest"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// TestHardBudgetAtTheDoor: once a program's hard budget is spent, Pick refuses its requests
// with RESOURCE_EXHAUSTED and a retry hint until the period resets, while other programs still
// get nodes; once a pool's hard budget with a fallback pool is spent, its requests go there.
func TestHardBudgetAtTheDoor(t *testing.T) {
	cp := fleettest.StartControlPlane(t, fleettest.FastConfig(t))
	c := costClient(t, cp)
	rc := fleetv1.NewRoutingServiceClient(fleettest.Dial(t, cp.GRPCAddr()))
	ctx := context.Background()
	if _, err := c.SetPrices(ctx, &fleetv1.SetPricesRequest{Prices: costPrices}); err != nil {
		t.Fatal(err)
	}
	budget := &fleetv1.Budget{Name: "sum-hard", Period: fleetv1.BudgetPeriod_BUDGET_PERIOD_DAILY, LimitUsd: 2, Program: "sum", Hard: true}
	if _, err := c.SetBudget(ctx, &fleetv1.SetBudgetRequest{Budget: budget}); err != nil {
		t.Fatal(err)
	}
	web := connectCostAgent(t, cp, &fleetv1.Hello{NodeId: "w1", Pool: "web", AdvertiseAddress: "127.0.0.1:9001"}, time.Now)
	connectCostAgent(t, cp, &fleetv1.Hello{NodeId: "c1", Pool: "cheap", AdvertiseAddress: "127.0.0.1:9002"}, time.Now)

	pick := func(program string) (*fleetv1.PickResponse, error) {
		resp, err := rc.Pick(ctx, &fleetv1.PickRequest{Pool: "web", Program: program})
		if err == nil {
			_, rerr := rc.ReportResult(ctx, &fleetv1.ReportResultRequest{Token: resp.GetToken(), Latency: durationpb.New(time.Millisecond), Ok: true})
			if rerr != nil {
				t.Fatalf("ReportResult: %v", rerr)
			}
		}
		return resp, err
	}
	fleettest.Eventually(t, 10*time.Second, "a first pick", func() bool { _, err := pick("sum"); return err == nil })

	web.send(tableReq("sum"), tableReq("sum")) // 2.6 USD against a 2 USD hard budget
	var refusal error
	fleettest.Eventually(t, 10*time.Second, "the budget to close the door", func() bool {
		_, refusal = pick("sum")
		return status.Code(refusal) == codes.ResourceExhausted
	})
	st := status.Convert(refusal)
	if !strings.Contains(st.Message(), `hard budget "sum-hard" is exhausted`) || !strings.Contains(st.Message(), "it resets at") {
		t.Errorf("refusal %q does not name the budget and its reset", st.Message())
	}
	var hint *errdetails.RetryInfo
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			hint = ri
		}
	}
	if hint == nil || hint.GetRetryDelay().AsDuration() <= 0 || hint.GetRetryDelay().AsDuration() > 24*time.Hour {
		t.Errorf("retry hint %v, want the time to the next UTC day", hint)
	}
	if resp, err := pick("other"); err != nil || resp.GetNodeId() != "w1" {
		t.Fatalf("a program without a budget: %v, %v", resp, err)
	}

	// A pool's hard budget with a fallback: the pool's requests go to the cheaper pool.
	if _, err := c.DeleteBudget(ctx, &fleetv1.DeleteBudgetRequest{Name: "sum-hard"}); err != nil {
		t.Fatal(err)
	}
	poolBudget := &fleetv1.Budget{Name: "web-hard", Period: fleetv1.BudgetPeriod_BUDGET_PERIOD_DAILY, LimitUsd: 2, Pool: "web", Hard: true, FallbackPool: "cheap"}
	if _, err := c.SetBudget(ctx, &fleetv1.SetBudgetRequest{Budget: poolBudget}); err != nil {
		t.Fatal(err)
	}
	fleettest.Eventually(t, 10*time.Second, "requests to go to the fallback pool", func() bool {
		resp, err := pick("sum")
		return err == nil && resp.GetPool() == "cheap" && resp.GetNodeId() == "c1"
	})
}

// TestColdHardBudgetHoldsACeiling: with no recent cost of the program or the fleet, a pick was
// let through at an estimate of 0, so 50 concurrent picks against a $0.01 hard budget were all
// admitted and the budget showed 0 % used. A cold request holds the configured ceiling, and
// what is held shows in cost budgets and dspyfleet_budget_used_ratio.
func TestColdHardBudgetHoldsACeiling(t *testing.T) {
	cfg := fleettest.FastConfig(t)
	cfg.BudgetColdRequestUSD = 0.004
	cp := fleettest.StartControlPlane(t, cfg)
	c := costClient(t, cp)
	rc := fleetv1.NewRoutingServiceClient(fleettest.Dial(t, cp.GRPCAddr()))
	ctx := context.Background()
	budget := &fleetv1.Budget{Name: "qa-hard", Period: fleetv1.BudgetPeriod_BUDGET_PERIOD_DAILY, LimitUsd: 0.01, Program: "qa", Hard: true}
	if _, err := c.SetBudget(ctx, &fleetv1.SetBudgetRequest{Budget: budget}); err != nil {
		t.Fatal(err)
	}
	connectCostAgent(t, cp, &fleetv1.Hello{NodeId: "w1", Pool: "web", AdvertiseAddress: "127.0.0.1:9001"}, time.Now)
	fleettest.Eventually(t, 10*time.Second, "w1 routable", func() bool {
		_, err := rc.Pick(ctx, &fleetv1.PickRequest{Pool: "web", Program: "other"})
		return err == nil
	})
	fleettest.Eventually(t, 10*time.Second, "the hard budget at the door", func() bool {
		l, err := c.ListBudgets(ctx, &fleetv1.ListBudgetsRequest{})
		return err == nil && len(l.GetBudgets()) == 1 && l.GetBudgets()[0].GetPeriodEnd() != nil
	})

	var admitted, refused atomic.Int32
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			_, err := rc.Pick(ctx, &fleetv1.PickRequest{Pool: "web", Program: "qa"})
			switch status.Code(err) {
			case codes.OK:
				admitted.Add(1)
			case codes.ResourceExhausted:
				refused.Add(1)
			default:
				t.Errorf("pick: %v", err)
			}
		})
	}
	wg.Wait()
	// 0.004 and 0.004 fit in 0.01; a third would not.
	if admitted.Load() != 2 || refused.Load() != 48 {
		t.Fatalf("%d admitted, %d refused; want 2 and 48", admitted.Load(), refused.Load())
	}
	l, err := c.ListBudgets(ctx, &fleetv1.ListBudgetsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if st := l.GetBudgets()[0]; math.Abs(st.GetCommittedUsd()-0.008) > 1e-9 || math.Abs(st.GetUsed()-0.8) > 1e-9 {
		t.Errorf("cost budgets: committed %v, used %v; want 0.008 held and 80 %% used", st.GetCommittedUsd(), st.GetUsed())
	}
	if m := scrape(t, cp); !strings.Contains(m, `dspyfleet_budget_used_ratio{budget="qa-hard"} 0.8`) {
		t.Errorf("/metrics lacks the held spend in dspyfleet_budget_used_ratio:\n%s", grepLines(m, "dspyfleet_budget_used_ratio"))
	}
}

// grepLines returns the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
