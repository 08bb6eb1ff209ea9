package controlplane_test

import (
	"context"
	"strings"
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
