package wire

import (
	"testing"
	"time"

	"github.com/dspyfleet/dspyfleet/pkg/reqstats"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

func TestWindowRoundTrip(t *testing.T) {
	start := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	agg := reqstats.NewAggregator(reqstats.Prices{"m": {InputPerMTok: 3, OutputPerMTok: 15}}, reqstats.DefaultRelativeAccuracy, reqstats.DefaultTopN, start)
	for i := range 50 {
		agg.Add(reqstats.Event{Time: start, Program: "qa", Model: "m", Latency: time.Duration(i+1) * time.Millisecond,
			TTFT: time.Millisecond, InputTokens: 100, OutputTokens: 20, Cache: reqstats.CacheMiss, Error: i == 7})
	}
	w := agg.Flush(start.Add(10 * time.Second))
	app := AppFromWindow(w, 3, 2)
	if app.GetRequests() != 50 || app.GetErrors() != 1 || app.GetInFlight() != 3 || app.GetIntakeDropped() != 2 || app.GetLatencyP50Ms() == 0 {
		t.Fatalf("encoded %v", app)
	}
	back, err := WindowFromApp(app, w.Start, w.End)
	if err != nil {
		t.Fatal(err)
	}
	if back.Requests != w.Requests || back.CostUSD != w.CostUSD || back.Latency.Count() != 50 || back.Latency.Quantile(0.95) != w.Latency.Quantile(0.95) {
		t.Fatalf("decoded %+v", back)
	}
	if len(back.Models) != 1 || back.Models[0].Name != "m" || back.Programs[0].Latency.Count() != 50 {
		t.Fatalf("breakdowns %+v %+v", back.Models, back.Programs)
	}
	if _, err := WindowFromApp(&fleetv1.AppMetrics{Latency: &fleetv1.Sketch{RelativeAccuracy: -1}}, start, start); err == nil {
		t.Fatal("a bad sketch decoded")
	}
}
