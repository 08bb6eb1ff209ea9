package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dspyfleet/dspyfleet/internal/fleettest"
	"github.com/dspyfleet/dspyfleet/internal/wire"
	"github.com/dspyfleet/dspyfleet/pkg/reqstats"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

func TestParseSince(t *testing.T) {
	for in, want := range map[string]time.Duration{"7d": 7 * 24 * time.Hour, "1.5d": 36 * time.Hour, "90m": 90 * time.Minute} {
		if got, err := parseSince(in); err != nil || got != want {
			t.Errorf("parseSince(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "0d", "-1h", "401d", "week", "xd"} {
		if _, err := parseSince(bad); err == nil {
			t.Errorf("parseSince(%q) accepted", bad)
		}
	}
}

func TestParseCostReport(t *testing.T) {
	a, err := parseCostReportArgs(newGlobals(), []string{"--by", "model", "--since", "30d", "--pool", "gpu"})
	if err != nil || a.by != fleetv1.CostGroupBy_COST_GROUP_BY_MODEL || a.since != 30*24*time.Hour || a.pool != "gpu" {
		t.Fatalf("parse = %+v, %v", a, err)
	}
	if a, err := parseCostReportArgs(newGlobals(), nil); err != nil || a.by != fleetv1.CostGroupBy_COST_GROUP_BY_POOL || a.since != 7*24*time.Hour {
		t.Fatalf("defaults = %+v, %v", a, err)
	}
	for _, args := range [][]string{{"--by", "zone"}, {"--since", "soon"}, {"extra"}} {
		if _, err := parseCostReportArgs(newGlobals(), args); err == nil {
			t.Errorf("accepted %v", args)
		}
	}
}

func TestParseBudgetSet(t *testing.T) {
	got, err := parseBudgetSetArgs(newGlobals(), []string{"gpu-day", "--period", "daily", "--limit", "50", "--pool", "gpu",
		"--thresholds", "50%,0.8,1", "--hard", "--fallback-pool", "cpu", "--time-zone", "Europe/Berlin"})
	want := &fleetv1.Budget{Name: "gpu-day", Period: fleetv1.BudgetPeriod_BUDGET_PERIOD_DAILY, LimitUsd: 50, Pool: "gpu",
		Thresholds: []float64{0.5, 0.8, 1}, Hard: true, FallbackPool: "cpu", TimeZone: "Europe/Berlin"}
	if err != nil || !proto.Equal(got.GetBudget(), want) || got.GetUpdateMask() != nil {
		t.Fatalf("parse = %v, %v; want %v", got, err, want)
	}
	got, err = parseBudgetSetArgs(newGlobals(), []string{"gpu-day", "--update", "--limit", "80", "--hard=false", "--etag", "e1"})
	if err != nil || got.GetBudget().GetLimitUsd() != 80 || got.GetEtag() != "e1" || !slices.Equal(got.GetUpdateMask().GetPaths(), []string{"hard", "limit_usd"}) {
		t.Fatalf("parse --update = %v, %v; want limit 80, etag e1, mask hard,limit_usd", got, err)
	}
	for _, args := range [][]string{{"--period", "daily", "--limit", "1"}, {"b", "--period", "hourly", "--limit", "1"}, {"b", "--period", "daily", "--thresholds", "a,b"}, {"b", "--update"}, {"b", "--update", "--period", "hourly"}} {
		if _, err := parseBudgetSetArgs(newGlobals(), args); err == nil {
			t.Errorf("accepted %v", args)
		}
	}
}

// TestCostAgainstControlPlane drives every cost command against a real control plane that
// receives known traffic over a real agent stream.
func TestCostAgainstControlPlane(t *testing.T) {
	cp := fleettest.StartControlPlane(t, fleettest.FastConfig(t))
	t.Setenv("DSPYFLEET_ADDR", cp.GRPCAddr())

	prices := filepath.Join(t.TempDir(), "prices.json")
	if err := os.WriteFile(prices, []byte(`{"instances": [{"instanceType": "m.test", "onDemandHourly": 36, "spotHourly": 12, "vcpus": 4, "memoryGib": 16}],
	  "models": [{"model": "big", "inputPerMtok": 10, "outputPerMtok": 30, "alternative": "small"}, {"model": "small", "inputPerMtok": 1, "outputPerMtok": 3}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if res := runCLI(t, "cost", "prices", "set", prices); res.code != exitOK || !strings.Contains(res.stdout, "1 instance types, 2 models") {
		t.Fatalf("prices set: %+v", res)
	}
	if res := runCLI(t, "cost", "prices"); res.code != exitOK || !strings.Contains(res.stdout, "m.test") || !strings.Contains(res.stdout, "small") {
		t.Fatalf("prices: %+v", res)
	}
	if res := runCLI(t, "cost", "budget", "set", "qa-day", "--period", "daily", "--limit", "2.6", "--program", "qa"); res.code != exitOK {
		t.Fatalf("budget set: %+v", res)
	}
	if res := runCLI(t, "cost", "budget", "set", "bad", "--period", "daily", "--limit", "1", "--thresholds", "11"); res.code != exitError || !strings.Contains(res.stderr, "budget.thresholds[0]") {
		t.Fatalf("bad budget: %+v", res)
	}

	// One agent in an interruption-tolerant pool sends two requests of "big": 1e5 input × 10 +
	// 1e4 output × 30 per million = 1.3 USD each, priced by the control plane.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := fleetv1.NewAgentServiceClient(fleettest.Dial(t, cp.GRPCAddr())).Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	hello := &fleetv1.Hello{NodeId: "b1", Pool: "batch", InstanceType: "m.test", InstanceId: "i1", ReportInterval: durationpb.New(time.Second),
		Labels: map[string]string{"interruption-tolerant": "true"}}
	if err := s.Send(&fleetv1.ConnectRequest{Msg: &fleetv1.ConnectRequest_Hello{Hello: hello}}); err != nil {
		t.Fatal(err)
	}
	if m, err := s.Recv(); err != nil || m.GetWelcome() == nil {
		t.Fatalf("welcome: %v %v", m, err)
	}
	now := time.Now()
	agg := reqstats.NewAggregator(nil, reqstats.DefaultRelativeAccuracy, reqstats.DefaultTopN, now.Add(-time.Second))
	for range 2 {
		agg.Add(reqstats.Event{Program: "qa", Model: "big", InputTokens: 100_000, OutputTokens: 10_000, Cache: reqstats.CacheMiss, Latency: time.Millisecond})
	}
	rep := &fleetv1.MetricsReport{Seq: 1, Time: timestamppb.New(now), App: wire.AppFromWindow(agg.Flush(now), 0, 0)}
	if err := s.Send(&fleetv1.ConnectRequest{Msg: &fleetv1.ConnectRequest_Report{Report: rep}}); err != nil {
		t.Fatal(err)
	}

	var res runResult
	fleettest.Eventually(t, 10*time.Second, "the model cost in cost report", func() bool {
		res = runCLI(t, "cost", "report", "--by", "model", "--since", "1d")
		return res.code == exitOK && strings.Contains(res.stdout, "big") && strings.Contains(res.stdout, "$2.6000")
	})
	if !strings.Contains(res.stdout, "Cost by model") || !strings.Contains(res.stdout, "$1.3000") {
		t.Fatalf("report by model:\n%s", res.stdout)
	}
	if res := runCLI(t, "cost", "report", "--by", "node"); res.code != exitOK || !strings.Contains(res.stdout, "b1 (batch)") {
		t.Fatalf("report by node: %+v", res)
	}
	fleettest.Eventually(t, 10*time.Second, "the budget at 100 %", func() bool {
		res = runCLI(t, "cost", "budgets")
		return res.code == exitOK && strings.Contains(res.stdout, "100.0%") && strings.Contains(res.stdout, "qa-day crossed 100%")
	})
	if !strings.Contains(res.stdout, "program qa") || !strings.Contains(res.stdout, "50%,80%,100%") {
		t.Fatalf("budgets:\n%s", res.stdout)
	}
	res = runCLI(t, "cost", "recs")
	if res.code != exitOK || !strings.Contains(res.stdout, "spot:batch  $17520.0000/month") || !strings.Contains(res.stdout, "cheaper-model:big") {
		t.Fatalf("recs: %+v", res)
	}
	if res := runCLI(t, "cost", "recs", "dismiss", "spot:batch"); res.code != exitOK || !strings.Contains(res.stdout, "dismissed") {
		t.Fatalf("dismiss: %+v", res)
	}
	if res := runCLI(t, "cost", "recs"); strings.Contains(res.stdout, "spot:batch") {
		t.Fatalf("dismissed recommendation listed:\n%s", res.stdout)
	}
	if res := runCLI(t, "cost", "recs", "--all"); !strings.Contains(res.stdout, "spot:batch") || !strings.Contains(res.stdout, "[dismissed]") {
		t.Fatalf("recs --all:\n%s", res.stdout)
	}
	if res := runCLI(t, "-o", "json", "cost", "report"); res.code != exitOK || !strings.Contains(res.stdout, `"COST_GROUP_BY_POOL"`) {
		t.Fatalf("json report: %+v", res)
	}
	if res := runCLI(t, "cost", "budget", "delete", "qa-day"); res.code != exitOK {
		t.Fatalf("delete: %+v", res)
	}
	if res := runCLI(t, "cost", "budget", "delete", "qa-day"); res.code != exitNotFound || !strings.Contains(res.stderr, "NotFound") {
		t.Fatalf("second delete: %+v", res)
	}
}
