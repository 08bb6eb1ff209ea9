package cost

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dspyfleet/dspyfleet/controlplane/fleet"
	"github.com/dspyfleet/dspyfleet/controlplane/stats"
	"github.com/dspyfleet/dspyfleet/controlplane/store"
	"github.com/dspyfleet/dspyfleet/internal/wire"
	"github.com/dspyfleet/dspyfleet/pkg/cost"
	"github.com/dspyfleet/dspyfleet/pkg/reqstats"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// ledgerRig is a cost tracker over a real bbolt file, with nodes loaded into a registry and a
// clock the test moves; restart closes and reopens everything on the same file.
type ledgerRig struct {
	t     testing.TB
	dir   string
	now   time.Time
	st    *store.Store
	reg   *fleet.Registry
	stats *stats.Requests
	c     *Tracker
	nodes []*fleetv1.Node
}

var ledgerPrices = cost.Table{
	Instances: map[string]cost.InstancePrice{"m.large": {OnDemandHourly: 3.6, SpotHourly: 1.8}},
	Models:    map[string]cost.ModelPrice{"table-model": {InputPerMTok: 10, OutputPerMTok: 30}},
}

func newLedgerRig(t testing.TB, start time.Time, nodes []*fleetv1.Node) *ledgerRig {
	r := &ledgerRig{t: t, dir: t.TempDir(), now: start, nodes: nodes}
	r.open()
	raw, err := proto.Marshal(TableToProto(ledgerPrices))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.c.SetPrices(ledgerPrices, raw); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.st.Close() })
	return r
}

func (r *ledgerRig) open() {
	r.t.Helper()
	st, err := store.Open(r.dir, time.Second)
	if err != nil {
		r.t.Fatal(err)
	}
	// Steps run thousands of times here; the file is closed cleanly, so skip the fsyncs.
	st.NoSyncForTest()
	clock := func() time.Time { return r.now }
	r.st = st
	r.reg = fleet.NewRegistry(clock, fleet.Liveness{NodeTTL: time.Hour, Grace: time.Second, FailoverTTL: time.Hour, DefaultInterval: 5 * time.Second}, 16)
	r.reg.Load(cloneNodes(r.nodes))
	r.stats = stats.NewRequests(clock, st, 14*24*time.Hour)
	r.c, err = New(slog.New(slog.NewTextHandler(io.Discard, nil)), st, r.stats, r.reg, r.now)
	if err != nil {
		r.t.Fatal(err)
	}
}

func cloneNodes(ns []*fleetv1.Node) []*fleetv1.Node {
	var out []*fleetv1.Node
	for _, n := range ns {
		out = append(out, proto.Clone(n).(*fleetv1.Node))
	}
	return out
}

// restart flushes the rollups, closes the store and opens it again after gap.
func (r *ledgerRig) restart(gap time.Duration) {
	r.t.Helper()
	if err := r.stats.Flush(); err != nil {
		r.t.Fatal(err)
	}
	if err := r.st.Close(); err != nil {
		r.t.Fatal(err)
	}
	r.now = r.now.Add(gap)
	r.open()
}

// run steps every 10 s until d has passed.
func (r *ledgerRig) run(d time.Duration) {
	r.t.Helper()
	end := r.now.Add(d)
	for r.now.Before(end) {
		r.now = r.now.Add(10 * time.Second)
		if err := r.c.Step(context.Background(), r.now); err != nil {
			r.t.Fatal(err)
		}
	}
}

// traffic adds a report of node at the current time with the given events.
func (r *ledgerRig) traffic(pool, node string, seq uint64, events ...reqstats.Event) {
	r.t.Helper()
	agentPrices := reqstats.Prices{"agent-model": {InputPerMTok: 1, OutputPerMTok: 2}}
	agg := reqstats.NewAggregator(agentPrices, 0.01, 10, r.now.Add(-5*time.Second))
	for _, e := range events {
		agg.Add(e)
	}
	rep := &fleetv1.MetricsReport{Time: timestamppb.New(r.now), Seq: seq, App: wire.AppFromWindow(agg.Flush(r.now), 0, 0)}
	if err := r.stats.Add(pool, node, rep); err != nil {
		r.t.Fatal(err)
	}
}

func (r *ledgerRig) report(by fleetv1.CostGroupBy) map[string]*fleetv1.CostLine {
	r.t.Helper()
	resp, err := r.c.Report(r.now.Add(-48*time.Hour), r.now.Add(time.Hour), by, "")
	if err != nil {
		r.t.Fatal(err)
	}
	out := map[string]*fleetv1.CostLine{"total": resp.GetTotal()}
	for _, l := range resp.GetLines() {
		out[l.GetName()] = l
	}
	return out
}

func approx(a, b float64) bool { return math.Abs(a-b) < 1e-9*math.Max(1, math.Abs(b)) }

// TestLedgerRestartNoDoubleCount accrues across an hour boundary and a control-plane restart:
// host cost is exactly price × time (the short outage included), token cost exactly what the
// reports carried, and repeated steps at the same time add nothing.
func TestLedgerRestartNoDoubleCount(t *testing.T) {
	start := time.Date(2026, 11, 27, 10, 30, 0, 0, time.UTC)
	nodes := []*fleetv1.Node{
		{Id: "n1", Pool: "a", InstanceType: "m.large", State: fleetv1.NodeState_NODE_STATE_READY, ConnectedSince: timestamppb.New(start)},
		{Id: "n2", Pool: "a", InstanceType: "m.large", Labels: map[string]string{purchaseLabel: "spot"}, State: fleetv1.NodeState_NODE_STATE_READY, ConnectedSince: timestamppb.New(start)},
		{Id: "n3", Pool: "b", InstanceType: "z.unknown", State: fleetv1.NodeState_NODE_STATE_READY, ConnectedSince: timestamppb.New(start)},
		{Id: "gone", Pool: "b", InstanceType: "m.large", State: fleetv1.NodeState_NODE_STATE_DOWN, ConnectedSince: timestamppb.New(start)},
	}
	r := newLedgerRig(t, start, nodes)
	// Agent-priced: 1000 in × 1 + 500 out × 2 per million = 0.002 USD; a hit saves as much.
	miss := reqstats.Event{Program: "qa", Model: "agent-model", InputTokens: 1000, OutputTokens: 500, Cache: reqstats.CacheMiss, Latency: time.Millisecond}
	hit := miss
	hit.Cache = reqstats.CacheHit
	// Table-priced: 1e5 in × 10 + 1e4 out × 30 per million = 1.3 USD.
	tabled := tabledEvent("sum")

	r.run(20 * time.Minute) // 10:50
	r.traffic("a", "n1", 1, miss, miss, hit)
	r.run(20 * time.Minute) // 11:10, across the hour
	r.traffic("a", "n2", 1, tabled)
	r.run(5 * time.Minute) // 11:15
	r.restart(30 * time.Second)
	for range 3 { // repeated steps at one time accrue nothing more
		if err := r.c.Step(context.Background(), r.now); err != nil {
			t.Fatal(err)
		}
	}
	r.run(15*time.Minute - 30*time.Second) // 11:30
	r.traffic("a", "n1", 2, miss)

	r.run(10 * time.Second)
	elapsed := r.now.Sub(start).Hours()
	pools := r.report(fleetv1.CostGroupBy_COST_GROUP_BY_POOL)
	wantHost := 3.6*elapsed + 1.8*elapsed
	wantTokens := 3*0.002 + 1.3
	if a := pools["a"]; !approx(a.GetHostUsd(), wantHost) || !approx(a.GetTokenUsd(), wantTokens) || a.GetUnknown() {
		t.Fatalf("pool a: host %v token %v unknown %v; want host %v token %v", a.GetHostUsd(), a.GetTokenUsd(), a.GetUnknown(), wantHost, wantTokens)
	}
	if a := pools["a"]; !approx(a.GetSavedUsd(), 0.002) || a.GetRequests() != 5 || !approx(a.GetHostHours(), 2*elapsed) {
		t.Fatalf("pool a: saved %v requests %d hours %v", a.GetSavedUsd(), a.GetRequests(), a.GetHostHours())
	}
	// The unknown instance type is unknown, never 0; the down node is not billed.
	if b := pools["b"]; b.GetHostUsd() != 0 || !b.GetUnknown() || !approx(b.GetUnpricedHostHours(), elapsed) {
		t.Fatalf("pool b = %v; want unknown cost for %v hours", b, elapsed)
	}
	models := r.report(fleetv1.CostGroupBy_COST_GROUP_BY_MODEL)
	if !approx(models["agent-model"].GetTokenUsd(), 0.006) || !approx(models["table-model"].GetTokenUsd(), 1.3) {
		t.Fatalf("models: %v", models)
	}
	programs := r.report(fleetv1.CostGroupBy_COST_GROUP_BY_PROGRAM)
	if !approx(programs["qa"].GetTokenUsd(), 0.006) || !approx(programs["qa"].GetSavedUsd(), 0.002) || !approx(programs["sum"].GetTokenUsd(), 1.3) {
		t.Fatalf("programs: %v", programs)
	}
	if cpr := programs["qa"].GetCostPerRequestUsd(); !approx(cpr, 0.006/4) {
		t.Fatalf("cost per request %v", cpr)
	}
}

// TestLedgerOutageGap: after an outage longer than hostMaxGap only hostMaxGap of it is billed.
func TestLedgerOutageGap(t *testing.T) {
	start := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	r := newLedgerRig(t, start, []*fleetv1.Node{
		{Id: "n1", Pool: "a", InstanceType: "m.large", State: fleetv1.NodeState_NODE_STATE_READY, ConnectedSince: timestamppb.New(start)},
	})
	r.run(10 * time.Minute)
	r.restart(time.Hour)
	r.run(10 * time.Second)
	want := 3.6 * (10*time.Minute + hostMaxGap).Hours() // accrual resumes hostMaxGap before the first step
	if got := r.report(fleetv1.CostGroupBy_COST_GROUP_BY_NODE)["n1"].GetHostUsd(); !approx(got, want) {
		t.Fatalf("host cost %v, want %v (the outage beyond %s unbilled)", got, want, hostMaxGap)
	}
}

// tabledEvent is a request the agent cannot price and the table prices at 1.3 USD:
// 1e5 input tokens × 10 + 1e4 output tokens × 30 per million.
func tabledEvent(program string) reqstats.Event {
	return reqstats.Event{Program: program, Model: "table-model", InputTokens: 100_000, OutputTokens: 10_000, Cache: reqstats.CacheMiss, Latency: time.Millisecond}
}

// setState moves a node to state as the liveness checks would.
func (r *ledgerRig) setState(id string, state fleetv1.NodeState) {
	r.reg.SetStateForTest(id, state, "test", r.now)
}

// TestLedgerNodeChurn: a node is billed while ready and disconnected, not while down, and again
// once back; each state counts from the reconcile step that first sees it.
func TestLedgerNodeChurn(t *testing.T) {
	start := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	r := newLedgerRig(t, start, []*fleetv1.Node{
		{Id: "n1", Pool: "a", InstanceType: "m.large", State: fleetv1.NodeState_NODE_STATE_READY, ConnectedSince: timestamppb.New(start)},
	})
	r.run(10 * time.Minute) // disconnected after the load: billed
	r.setState("n1", fleetv1.NodeState_NODE_STATE_DOWN)
	r.run(20 * time.Minute)
	r.setState("n1", fleetv1.NodeState_NODE_STATE_READY)
	r.run(10 * time.Minute)
	r.setState("n1", fleetv1.NodeState_NODE_STATE_DISCONNECTED)
	r.run(5 * time.Minute)
	want := 3.6 * (25 * time.Minute).Hours()
	if got := r.report(fleetv1.CostGroupBy_COST_GROUP_BY_NODE)["n1"]; !approx(got.GetHostUsd(), want) || !approx(got.GetHostHours(), (25*time.Minute).Hours()) {
		t.Fatalf("n1 host %v USD over %v h; want %v over 25 min", got.GetHostUsd(), got.GetHostHours(), want)
	}
}

// TestLedgerRefusesNonFinite: a sum that is not finite is refused and nothing of the write is
// stored; an entry stored before that rule is removed when the tracker loads.
func TestLedgerRefusesNonFinite(t *testing.T) {
	start := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	r := newLedgerRig(t, start, nil)
	k := ledgerKey{hour: hourOf(start), pool: "web", node: "n1", dim: cost.DimHost}
	err := r.st.Update(func(tx *store.Tx) error {
		_, err := writeLedger(tx, map[ledgerKey]cost.Amount{k: {USD: math.Inf(1), UpSeconds: 10}}, hourOf(start), hourOf(start), tokenSet{})
		return err
	})
	if !errors.Is(err, ErrNonFinite) || !strings.Contains(err.Error(), `node "n1"`) {
		t.Fatalf("writeLedger of +Inf = %v, want ErrNonFinite naming the entry", err)
	}
	if err := r.st.View(func(tx *store.Tx) error {
		if tx.Bucket(store.CostLedger).Get(k.encode()) != nil {
			t.Error("the refused entry is stored")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	if err := r.st.Update(func(tx *store.Tx) error {
		return tx.Bucket(store.CostLedger).Put(k.encode(), encodeAmount(cost.Amount{USD: math.NaN(), UpSeconds: 10}))
	}); err != nil {
		t.Fatal(err)
	}
	r.restart(time.Minute)
	if err := r.st.View(func(tx *store.Tx) error {
		if tx.Bucket(store.CostLedger).Get(k.encode()) != nil {
			t.Error("the poisoned entry survived a restart")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	r.run(time.Minute)
	if usd := r.report(fleetv1.CostGroupBy_COST_GROUP_BY_POOL)["total"].GetTotalUsd(); math.IsNaN(usd) || math.IsInf(usd, 0) {
		t.Fatalf("total %g after recovery", usd)
	}
}
