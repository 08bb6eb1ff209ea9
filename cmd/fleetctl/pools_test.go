package main

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

func TestParsePoolStats(t *testing.T) {
	tests := []struct {
		args    []string
		want    *fleetv1.GetPoolStatsRequest
		wantErr string
	}{
		{nil, &fleetv1.GetPoolStatsRequest{}, ""},
		{[]string{"--pool", "gpu", "--window", "1h"}, &fleetv1.GetPoolStatsRequest{Pool: "gpu", Window: durationpb.New(time.Hour)}, ""},
		{[]string{"--window", "-1m"}, nil, "--window"},
		{[]string{"extra"}, nil, "unexpected argument"},
		{[]string{"--windoww", "1m"}, nil, "windoww"},
	}
	for _, tt := range tests {
		got, err := parsePoolStats(newGlobals(), tt.args)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("parsePoolStats(%v) = %v, want error containing %q", tt.args, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !proto.Equal(got, tt.want) {
			t.Errorf("parsePoolStats(%v) = %v, %v; want %v", tt.args, got, err, tt.want)
		}
	}
}

func TestWritePoolStats(t *testing.T) {
	start := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	resp := &fleetv1.GetPoolStatsResponse{
		Pool: &fleetv1.RequestStats{Name: "web", Start: timestamppb.New(start), End: timestamppb.New(start.Add(5 * time.Minute)),
			Requests: 250, Errors: 25, ErrorRate: 0.1, LatencyP95Ms: 812.5, InputTokens: 2500, OutputTokens: 1250, CacheHits: 50, CacheMisses: 200, CacheHitRatio: 0.2,
			Models: []*fleetv1.AppBreakdown{{Name: "openai/gpt-4o-mini", Requests: 250}}},
		Nodes: []*fleetv1.RequestStats{{Name: "web-1", Requests: 250, Errors: 25}},
	}
	var b strings.Builder
	if err := writePoolStats(&b, resp); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Pool web, last 5m0s", "250 (25 errors, 10.0%)", "p95 812.5ms", "2500 in, 1250 out", "50 hits, 200 misses (20.0% hit ratio)", "web-1", "openai/gpt-4o-mini"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, b.String())
		}
	}
}

func TestWritePoolStatsShowsTTFT(t *testing.T) {
	for _, tt := range []struct {
		name string
		pool *fleetv1.RequestStats
		want string
	}{
		{"streamed", &fleetv1.RequestStats{Name: "web", TtftP50Ms: 80, TtftP95Ms: 240.5, TtftP99Ms: 400,
			Ttft: &fleetv1.Sketch{RelativeAccuracy: 0.01, Counts: []uint64{3, 4}}}, "TTFT:      p50 80.0ms, p95 240.5ms, p99 400.0ms (7 streamed requests)"},
		{"none", &fleetv1.RequestStats{Name: "web"}, "TTFT:      none reported"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			if err := writePoolStats(&b, &fleetv1.GetPoolStatsResponse{Pool: tt.pool}); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(b.String(), tt.want) {
				t.Errorf("output lacks %q:\n%s", tt.want, b.String())
			}
		})
	}
}

// TestWritePoolStatsUnpricedTokens: tokens of a model the agents have no price for showed as
// $0.0000; they are unknown, as in the cost report.
func TestWritePoolStatsUnpricedTokens(t *testing.T) {
	priced := &fleetv1.AppBreakdown{Name: "openai/gpt-4o-mini", Requests: 10, InputTokens: 1000, OutputTokens: 200, CostUsd: 0.0003}
	unpriced := &fleetv1.AppBreakdown{Name: "local/llama", Requests: 5, InputTokens: 400, OutputTokens: 100}
	tests := []struct {
		name   string
		models []*fleetv1.AppBreakdown
		cost   float64
		want   []string
	}{
		{"one model unpriced", []*fleetv1.AppBreakdown{priced, unpriced}, 0.0003,
			[]string{"Cost:      $0.0003 + ? (500 tokens of local/llama have no price", "local/llama          5          0        0            400         100          ?\n"}},
		{"every model unpriced", []*fleetv1.AppBreakdown{unpriced}, 0,
			[]string{"Cost:      $0.0000 + ? (500 tokens of local/llama"}},
		{"every model priced", []*fleetv1.AppBreakdown{priced}, 0.0003,
			[]string{"Cost:      $0.0003\n", "0.0003\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var in, out uint64
			for _, m := range tt.models {
				in, out = in+m.GetInputTokens(), out+m.GetOutputTokens()
			}
			pool := &fleetv1.RequestStats{Name: "web", Models: tt.models, InputTokens: in, OutputTokens: out, CostUsd: tt.cost}
			var b strings.Builder
			if err := writePoolStats(&b, &fleetv1.GetPoolStatsResponse{Pool: pool}); err != nil {
				t.Fatal(err)
			}
			for _, want := range tt.want {
				if !strings.Contains(b.String(), want) {
					t.Errorf("output lacks %q:\n%s", want, b.String())
				}
			}
		})
	}
}
