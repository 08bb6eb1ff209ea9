package cost

import (
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dspyfleet/dspyfleet/pkg/reqstats"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// TestSeriesPerHour accrues host cost from 10:30 to 11:30 and token cost at 10:50 and 11:10,
// then reads the ledger as hourly and two-hourly series: each point holds exactly what its
// hours accrued, per pool, model and program, the total adds them up, and the first point
// starts on the step boundary at or before the start.
func TestSeriesPerHour(t *testing.T) {
	start := time.Date(2026, 11, 27, 10, 30, 0, 0, time.UTC)
	nodes := []*fleetv1.Node{
		{Id: "n1", Pool: "a", InstanceType: "m.large", State: fleetv1.NodeState_NODE_STATE_READY, ConnectedSince: timestamppb.New(start)},
		{Id: "n2", Pool: "b", InstanceType: "m.large", Labels: map[string]string{purchaseLabel: "spot"}, State: fleetv1.NodeState_NODE_STATE_READY, ConnectedSince: timestamppb.New(start)},
	}
	r := newLedgerRig(t, start, nodes)
	// Agent-priced: 1000 in × 1 + 500 out × 2 per million = 0.002 USD.
	miss := reqstats.Event{Program: "qa", Model: "agent-model", InputTokens: 1000, OutputTokens: 500, Cache: reqstats.CacheMiss, Latency: time.Millisecond}
	r.run(20 * time.Minute) // 10:50
	r.traffic("a", "n1", 1, miss, miss)
	r.run(20 * time.Minute) // 11:10
	r.traffic("b", "n2", 1, tabledEvent("sum"))
	r.run(20 * time.Minute) // 11:30
	r.run(10 * time.Second)
	end := r.now

	from := time.Date(2026, 11, 27, 9, 15, 0, 0, time.UTC)
	resp, err := r.c.Series(from, end, time.Hour, fleetv1.CostGroupBy_COST_GROUP_BY_POOL, "")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := resp.GetStart().AsTime(), time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Fatalf("series start %s, want %s", got, want)
	}
	if n := len(resp.GetTimes()); n != 3 || !resp.GetTimes()[2].AsTime().Equal(time.Date(2026, 11, 27, 11, 0, 0, 0, time.UTC)) {
		t.Fatalf("times %v, want 9:00, 10:00, 11:00", resp.GetTimes())
	}
	byName := map[string]*fleetv1.CostSeries{}
	for _, s := range resp.GetSeries() {
		byName[s.GetName()] = s
	}
	hostA, hostB := 3.6*(end.Sub(start).Hours()-0.5), 1.8*(end.Sub(start).Hours()-0.5) // the hours from 11:00
	for _, tc := range []struct {
		name        string
		host, token [3]float64
	}{
		{"a", [3]float64{0, 1.8, hostA}, [3]float64{0, 0.004, 0}},
		{"b", [3]float64{0, 0.9, hostB}, [3]float64{0, 0, 1.3}},
		{"total", [3]float64{0, 2.7, hostA + hostB}, [3]float64{0, 0.004, 1.3}},
	} {
		s := byName[tc.name]
		if tc.name == "total" {
			s = resp.GetTotal()
		}
		for i := range 3 {
			if !approx(s.GetHostUsd()[i], tc.host[i]) || !approx(s.GetTokenUsd()[i], tc.token[i]) || !approx(s.GetTotalUsd()[i], tc.host[i]+tc.token[i]) {
				t.Errorf("%s point %d: host %v token %v total %v; want host %v token %v", tc.name, i, s.GetHostUsd()[i], s.GetTokenUsd()[i], s.GetTotalUsd()[i], tc.host[i], tc.token[i])
			}
		}
	}
	if resp.GetSeries()[0].GetName() != "a" {
		t.Errorf("series order %v, want the most cost first (a)", resp.GetSeries())
	}

	programs, err := r.c.Series(from, end, 2*time.Hour, fleetv1.CostGroupBy_COST_GROUP_BY_PROGRAM, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := programs.GetStart().AsTime(); !got.Equal(time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)) || len(programs.GetTimes()) != 2 {
		t.Fatalf("two-hour program series from %s with %d points, want 8:00 with 2", got, len(programs.GetTimes()))
	}
	want := map[string][2]float64{"sum": {0, 1.3}, "qa": {0, 0.004}}
	if len(programs.GetSeries()) != 2 {
		t.Fatalf("program series %v, want sum and qa", programs.GetSeries())
	}
	for _, s := range programs.GetSeries() {
		w := want[s.GetName()]
		if !approx(s.GetTokenUsd()[0], w[0]) || !approx(s.GetTokenUsd()[1], w[1]) || s.GetHostUsd()[1] != 0 {
			t.Errorf("program %s: token %v host %v, want token %v and no host cost", s.GetName(), s.GetTokenUsd(), s.GetHostUsd(), w)
		}
	}

	onlyB, err := r.c.Series(from, end, time.Hour, fleetv1.CostGroupBy_COST_GROUP_BY_MODEL, "b")
	if err != nil {
		t.Fatal(err)
	}
	if len(onlyB.GetSeries()) != 1 || onlyB.GetSeries()[0].GetName() != "table-model" || !approx(onlyB.GetTotal().GetTotalUsd()[2], 1.3) {
		t.Errorf("pool b by model: %v, want table-model alone with 1.3 USD at 11:00", onlyB.GetSeries())
	}
	if _, err := r.c.Series(end, end, time.Hour, fleetv1.CostGroupBy_COST_GROUP_BY_POOL, ""); err == nil {
		t.Error("an empty range was answered")
	}
}
