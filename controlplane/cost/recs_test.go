package cost

import (
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dspyfleet/dspyfleet/controlplane/store"
	"github.com/dspyfleet/dspyfleet/pkg/cost"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// TestRecommendFromLedgerHistory draws recommendations from a constructed week of ledger
// history: two on-demand m.large nodes of pool a, one up every hour and busy, one up half of
// every hour and idle, make a steady baseline of one node (reserved) and an idle node.
func TestRecommendFromLedgerHistory(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	r := newLedgerRig(t, now, []*fleetv1.Node{
		{Id: "busy", Pool: "a", InstanceType: "m.large", State: fleetv1.NodeState_NODE_STATE_READY, ConnectedSince: timestamppb.New(now)},
		{Id: "idle", Pool: "a", InstanceType: "m.large", State: fleetv1.NodeState_NODE_STATE_READY, ConnectedSince: timestamppb.New(now)},
	})
	tab := ledgerPrices.Clone()
	tab.Instances["m.large"] = cost.InstancePrice{OnDemandHourly: 3.6, ReservedHourly: 2.4}
	r.c.prices = tab
	err := r.st.Update(func(tx *store.Tx) error {
		b := tx.Bucket(store.CostLedger)
		for h := hourOf(now) - 7*24; h < hourOf(now); h++ {
			for _, e := range []struct {
				key ledgerKey
				a   cost.Amount
			}{
				{ledgerKey{hour: h, pool: "a", node: "busy", dim: cost.DimHost}, cost.Amount{UpSeconds: 3600, USD: 3.6}},
				{ledgerKey{hour: h, pool: "a", node: "busy", dim: cost.DimModel, name: "m"}, cost.Amount{Requests: 100, USD: 1}},
				{ledgerKey{hour: h, pool: "a", node: "idle", dim: cost.DimHost}, cost.Amount{UpSeconds: 1800, USD: 1.8}},
			} {
				if err := b.Put(e.key.encode(), encodeAmount(e.a)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	nodes := r.reg.List(&fleetv1.ListNodesRequest{})
	ev, window, err := r.c.recEvidence(nodes, now.Add(-7*24*time.Hour), now)
	if err != nil {
		t.Fatal(err)
	}
	if window != 7*24*time.Hour || len(ev.Baselines) != 1 || len(ev.Baselines[0].NodeHours) != 7*24 || ev.Baselines[0].NodeHours[5] != 1.5 {
		t.Fatalf("window %s, baselines %+v", window, ev.Baselines)
	}
	if len(ev.Nodes) != 2 || ev.Nodes[0].Requests != 100*7*24 || ev.Nodes[1].UpHours != 84 {
		t.Fatalf("nodes %+v", ev.Nodes)
	}
	recs, _, err := r.c.recommend(nodes, r.c.prices, now)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"reserved:a/m.large": 1 * (3.6 - 2.4) * cost.HoursPerMonth, "idle:idle": 3.6 * cost.HoursPerMonth}
	if len(recs) != len(want) {
		t.Fatalf("recommendations %+v", recs)
	}
	for _, rec := range recs {
		if w, ok := want[rec.ID]; !ok || !approx(rec.MonthlySavingsUSD, w) {
			t.Fatalf("recommendation %s saves %v; want %v", rec.ID, rec.MonthlySavingsUSD, want)
		}
	}
}
