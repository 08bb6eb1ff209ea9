package controlplane

import (
	"fmt"
	"os"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dspyfleet/dspyfleet/controlplane/stats"
	"github.com/dspyfleet/dspyfleet/controlplane/store"
	"github.com/dspyfleet/dspyfleet/internal/wire"
	"github.com/dspyfleet/dspyfleet/pkg/reqstats"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// BenchmarkRollupFlush measures the bbolt write of one-minute request rollups: each iteration
// is one minute of a 1,000-node pool (one report per node merged in memory, untimed) and the
// flush that writes the 1,000 rollups in one transaction (timed). It reports rollups written
// per second and the database file's size per node-day (1,440 rollups of a node), each report
// carrying 60 requests over three programs with latency and TTFT sketches.
func BenchmarkRollupFlush(b *testing.B) {
	const nodes = 1000
	st, err := store.Open(b.TempDir(), time.Second)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	start := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	now := start
	stats := stats.NewRequests(func() time.Time { return now }, st, 14*24*time.Hour)
	prices := reqstats.Prices{"openai/gpt-4o-mini": {InputPerMTok: 0.15, OutputPerMTok: 0.6}}
	agg := reqstats.NewAggregator(prices, reqstats.DefaultRelativeAccuracy, reqstats.DefaultTopN, start)
	for i := range 60 {
		agg.Add(reqstats.Event{
			Program: []string{"qa", "summarize", "classify"}[i%3], Model: "openai/gpt-4o-mini",
			Latency: time.Duration(200+17*i) * time.Millisecond, TTFT: time.Duration(60+5*i) * time.Millisecond,
			InputTokens: int64(400 + 13*i), OutputTokens: int64(80 + 7*i), Cache: reqstats.CacheState(1 + i%2), Error: i%29 == 0,
		})
	}
	app := wire.AppFromWindow(agg.Flush(start.Add(time.Minute)), 3, 0)
	ids := make([]string, nodes)
	for n := range ids {
		ids[n] = fmt.Sprintf("node-%04d", n)
	}
	minutes := 0
	for b.Loop() {
		b.StopTimer()
		now = start.Add(time.Duration(minutes) * time.Minute)
		rep := &fleetv1.MetricsReport{Time: timestamppb.New(now), App: app}
		for _, id := range ids {
			if err := stats.Add("bench", id, rep); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		if err := stats.Flush(); err != nil {
			b.Fatal(err)
		}
		minutes++
	}
	b.StopTimer()
	fi, err := os.Stat(st.Path())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(nodes*minutes)/b.Elapsed().Seconds(), "rollups/s")
	b.ReportMetric(float64(fi.Size())/(float64(nodes*minutes)/(24*60)), "B/node-day")
}
