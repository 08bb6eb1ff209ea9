package controlplane_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dspyfleet/dspyfleet/internal/fleettest"
	"github.com/dspyfleet/dspyfleet/internal/wire"
	"github.com/dspyfleet/dspyfleet/pkg/reqstats"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// TestPoolStatsMergeSketches sends known request windows from three nodes and checks the pool's
// figures: counts add exactly, and each percentile is within the sketch's 1 % bound of the exact
// percentile of the union of every node's samples (never an average of percentiles).
func TestPoolStatsMergeSketches(t *testing.T) {
	cp := fleettest.StartControlPlane(t, fleettest.FastConfig(t))
	rng := rand.New(rand.NewPCG(1, 2))
	var all, ttfts []float64
	var wantReq, wantErr, wantIn uint64
	prices := reqstats.Prices{"m1": {InputPerMTok: 1, OutputPerMTok: 2}}
	for n := range 3 {
		s := connect(t, cp, fmt.Sprintf("stats-%d", n), "i1")
		agg := reqstats.NewAggregator(prices, reqstats.DefaultRelativeAccuracy, reqstats.DefaultTopN, time.Now())
		scale := float64(100 * (n + 1)) // each node has its own latency distribution
		for i := range 400 {
			ms := scale * math.Exp(rng.NormFloat64()*0.6)
			all = append(all, ms)
			e := reqstats.Event{Time: time.Now(), Program: "qa", Model: "m1", Latency: time.Duration(ms * float64(time.Millisecond)), InputTokens: 10, OutputTokens: 5, Error: i%10 == 0}
			if i%2 == 0 { // streamed: a time to first token of a quarter of the latency
				e.TTFT = e.Latency / 4
				ttfts = append(ttfts, e.TTFT.Seconds()*1000)
			}
			agg.Add(e)
			wantReq++
			wantIn += 10
			if e.Error {
				wantErr++
			}
		}
		app := wire.AppFromWindow(agg.Flush(time.Now()), 0, 0)
		send(t, s, &fleetv1.ConnectRequest{Msg: &fleetv1.ConnectRequest_Report{Report: &fleetv1.MetricsReport{Seq: 1, Time: timestamppb.Now(), App: app}}})
		waitAck(t, s, 1)
	}
	resp, err := cp.Fleet(t).GetPoolStats(context.Background(), &fleetv1.GetPoolStatsRequest{Window: durationpb.New(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	p := resp.GetPool()
	if p.GetRequests() != wantReq || p.GetErrors() != wantErr || p.GetInputTokens() != wantIn || len(resp.GetNodes()) != 3 {
		t.Fatalf("pool counts: requests %d errors %d input %d nodes %d; want %d %d %d 3", p.GetRequests(), p.GetErrors(), p.GetInputTokens(), len(resp.GetNodes()), wantReq, wantErr, wantIn)
	}
	if want := float64(wantIn)*1/1e6 + float64(wantReq*5)*2/1e6; math.Abs(p.GetCostUsd()-want) > 1e-9 {
		t.Fatalf("cost %g, want %g", p.GetCostUsd(), want)
	}
	slices.Sort(all)
	for q, got := range map[float64]float64{0.5: p.GetLatencyP50Ms(), 0.95: p.GetLatencyP95Ms(), 0.99: p.GetLatencyP99Ms()} {
		exact := all[int(math.Ceil(q*float64(len(all))))-1]
		if math.Abs(got-exact) > 0.01*exact {
			t.Errorf("p%g = %.2f ms, exact %.2f ms: off by more than 1 %%", q*100, got, exact)
		}
	}
	slices.Sort(ttfts)
	for q, got := range map[float64]float64{0.5: p.GetTtftP50Ms(), 0.95: p.GetTtftP95Ms(), 0.99: p.GetTtftP99Ms()} {
		exact := ttfts[int(math.Ceil(q*float64(len(ttfts))))-1]
		if math.Abs(got-exact) > 0.01*exact {
			t.Errorf("TTFT p%g = %.2f ms, exact %.2f ms: off by more than 1 %%", q*100, got, exact)
		}
	}
	if len(p.GetModels()) != 1 || p.GetModels()[0].GetName() != "m1" || p.GetModels()[0].GetRequests() != wantReq {
		t.Fatalf("models %v", p.GetModels())
	}
}

func TestPoolStatsBadInput(t *testing.T) {
	cp := fleettest.StartControlPlane(t, fleettest.FastConfig(t))
	c := cp.Fleet(t)
	for _, req := range []*fleetv1.GetPoolStatsRequest{
		{Pool: "bad pool"},
		{Window: durationpb.New(time.Second)},
		{Window: durationpb.New(365 * 24 * time.Hour)},
	} {
		if _, err := c.GetPoolStats(context.Background(), req); status.Code(err) != codes.InvalidArgument {
			t.Errorf("GetPoolStats(%v): %v, want InvalidArgument", req, err)
		}
	}
	resp, err := c.GetPoolStats(context.Background(), &fleetv1.GetPoolStatsRequest{Pool: "empty"})
	if err != nil || resp.GetPool().GetRequests() != 0 || resp.GetPool().GetName() != "empty" {
		t.Fatalf("empty pool: %v %v", resp, err)
	}

	// A report whose sketch disagrees with its counts is refused and changes nothing.
	s := connect(t, cp, "liar", "i1")
	sk := reqstats.NewSketch(reqstats.DefaultRelativeAccuracy)
	sk.Add(10)
	bad := &fleetv1.MetricsReport{Seq: 1, Time: timestamppb.Now(), App: &fleetv1.AppMetrics{Requests: 5, Latency: wire.SketchToProto(sk)}}
	send(t, s, &fleetv1.ConnectRequest{Msg: &fleetv1.ConnectRequest_Report{Report: bad}})
	wantStatus(t, s, codes.InvalidArgument, "app.latency")
	s2 := connect(t, cp, "liar", "i1")
	broken := &fleetv1.MetricsReport{Seq: 2, Time: timestamppb.Now(), App: &fleetv1.AppMetrics{Requests: 1, Latency: &fleetv1.Sketch{RelativeAccuracy: 7, Counts: []uint64{1}}}}
	send(t, s2, &fleetv1.ConnectRequest{Msg: &fleetv1.ConnectRequest_Report{Report: broken}})
	wantStatus(t, s2, codes.InvalidArgument, "app")
	resp, err = c.GetPoolStats(context.Background(), &fleetv1.GetPoolStatsRequest{})
	if err != nil || resp.GetPool().GetRequests() != 0 {
		t.Fatalf("rejected reports were counted: %v %v", resp, err)
	}
}
