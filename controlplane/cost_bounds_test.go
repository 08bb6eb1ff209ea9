package controlplane_test

import (
	"context"
	"encoding/binary"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dspyfleet/dspyfleet/controlplane/store"
	"github.com/dspyfleet/dspyfleet/internal/fleettest"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// TestCostBoundsAtEveryDoor: a price, a budget limit or a reported cost too large for the
// ledger is refused with InvalidArgument naming the field, at the API and in the agent session.
func TestCostBoundsAtEveryDoor(t *testing.T) {
	cp := fleettest.StartControlPlane(t, fleettest.FastConfig(t))
	c := costClient(t, cp)
	ctx := context.Background()
	for _, tc := range []struct {
		name, field string
		call        func() error
	}{
		{"host price", "instances[x].on_demand_hourly", func() error {
			_, err := c.SetPrices(ctx, &fleetv1.SetPricesRequest{Prices: &fleetv1.Prices{Instances: []*fleetv1.InstancePrice{{InstanceType: "x", OnDemandHourly: 1e308}}}})
			return err
		}},
		{"token price", "models[m].input_per_mtok", func() error {
			_, err := c.SetPrices(ctx, &fleetv1.SetPricesRequest{Prices: &fleetv1.Prices{Models: []*fleetv1.ModelPrice{{Model: "m", InputPerMtok: 1e308}}}})
			return err
		}},
		{"budget limit", "limit_usd", func() error {
			_, err := c.SetBudget(ctx, &fleetv1.SetBudgetRequest{Budget: &fleetv1.Budget{Name: "b", Period: fleetv1.BudgetPeriod_BUDGET_PERIOD_DAILY, LimitUsd: math.MaxFloat64}})
			return err
		}},
	} {
		if err := tc.call(); status.Code(err) != codes.InvalidArgument || !strings.Contains(status.Convert(err).Message(), tc.field) {
			t.Errorf("%s: got %v, want InvalidArgument naming %s", tc.name, err, tc.field)
		}
	}

	s := open(t, cp)
	send(t, s, &fleetv1.ConnectRequest{Msg: &fleetv1.ConnectRequest_Hello{Hello: &fleetv1.Hello{
		NodeId: "rich", InstanceId: "i1", HourlyPrice: 1e308, ReportInterval: durationpb.New(time.Second)}}})
	wantStatus(t, s, codes.InvalidArgument, "hourly_price")

	s = connect(t, cp, "n1", "i1")
	send(t, s, &fleetv1.ConnectRequest{Msg: &fleetv1.ConnectRequest_Report{Report: &fleetv1.MetricsReport{
		Seq: 1, Time: timestamppb.Now(), Host: &fleetv1.HostMetrics{CpuPercent: 1},
		App: &fleetv1.AppMetrics{Models: []*fleetv1.AppBreakdown{{Name: "m", CostUsd: 1e300}}},
	}}})
	wantStatus(t, s, codes.InvalidArgument, "app.models[0].cost_usd")
}

// TestPoisonedLedgerRecovers: a ledger entry holding +Inf (written before amounts were bounded)
// made a hard budget exhausted for good, across restarts. A control plane started on such a
// data directory removes the entry with a log line naming it, and Pick works again.
func TestPoisonedLedgerRecovers(t *testing.T) {
	cfg := fleettest.FastConfig(t)
	cp := fleettest.StartControlPlane(t, cfg)
	c := costClient(t, cp)
	ctx := context.Background()
	if _, err := c.SetPrices(ctx, &fleetv1.SetPricesRequest{Prices: costPrices}); err != nil {
		t.Fatal(err)
	}
	budget := &fleetv1.Budget{Name: "web-hard", Period: fleetv1.BudgetPeriod_BUDGET_PERIOD_DAILY, LimitUsd: 1000, Pool: "web", Hard: true}
	if _, err := c.SetBudget(ctx, &fleetv1.SetBudgetRequest{Budget: budget}); err != nil {
		t.Fatal(err)
	}
	cp.Stop(t)

	st, err := store.Open(cfg.DataDir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// The ledger's host entry of node w1 in pool web for the current hour (key: 8-byte unix
	// hour, pool, 0, node, 0, 'h'; amount: version 1, then usd, up, unpriced and saved seconds
	// as float64 bits and six counters), holding +Inf USD.
	key := binary.BigEndian.AppendUint64(nil, uint64(time.Now().Unix()/3600))
	key = append(append(append(key, "web"...), 0), "w1"...)
	key = append(key, 0, 'h')
	amount := []byte{1}
	for _, f := range []float64{math.Inf(1), 60, 0, 0} {
		amount = binary.BigEndian.AppendUint64(amount, math.Float64bits(f))
	}
	amount = append(amount, make([]byte, 6*8)...)
	if err := st.Update(func(tx *store.Tx) error { return tx.Bucket(store.CostLedger).Put(key, amount) }); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	var logs fleettest.Buffer
	cfg.Logger = slog.New(slog.NewMultiHandler(fleettest.Logger(t).Handler(), slog.NewTextHandler(&logs, nil)))
	cp = fleettest.StartControlPlane(t, cfg)
	if !strings.Contains(logs.String(), "cost ledger entry with a non-finite amount removed") || !strings.Contains(logs.String(), "node=w1") {
		t.Errorf("no log line names the removed entry:\n%s", logs.String())
	}
	connectCostAgent(t, cp, &fleetv1.Hello{NodeId: "w1", Pool: "web", InstanceType: "m.test", AdvertiseAddress: "127.0.0.1:9001"}, time.Now)
	rc := fleetv1.NewRoutingServiceClient(fleettest.Dial(t, cp.GRPCAddr()))
	var pickErr error
	fleettest.Eventually(t, 10*time.Second, "a pick in the pool of the poisoned entry", func() bool {
		_, pickErr = rc.Pick(ctx, &fleetv1.PickRequest{Pool: "web"})
		return pickErr == nil
	})
	rep, err := costClient(t, cp).GetReport(ctx, &fleetv1.GetReportRequest{})
	if err != nil || math.IsInf(rep.GetTotal().GetTotalUsd(), 0) || math.IsNaN(rep.GetTotal().GetTotalUsd()) {
		t.Fatalf("report after recovery: %v, %v", rep.GetTotal(), err)
	}
}
