package controlplane_test

import (
	"context"
	"testing"
	"time"

	"github.com/dspyfleet/dspyfleet/internal/fleettest"
	"github.com/dspyfleet/dspyfleet/pkg/reqstats"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// TestCacheHitsPricedAtTheMissAverage is the accounting of DSPy cache hits, which report no
// tokens (the contrib callback sends 0): 10 misses of 1,000 input and 200 output tokens and 10
// hits, once for a model the control plane's table prices (0.15 and 0.6 USD a million: 0.00027 a
// miss) and once for one the agent's prices: table prices (2.5 and 10: 0.0045 a miss). A hit
// costs nothing and saves a miss's average, so spend is 0.0027 and 0.045 (not cut by the hit
// share) and savings are the same (not 0).
func TestCacheHitsPricedAtTheMissAverage(t *testing.T) {
	cp := fleettest.StartControlPlane(t, fleettest.FastConfig(t))
	c := costClient(t, cp)
	ctx := context.Background()
	prices := &fleetv1.Prices{Models: []*fleetv1.ModelPrice{{Model: "gpt-4o-mini", InputPerMtok: 0.15, OutputPerMtok: 0.6}}}
	if _, err := c.SetPrices(ctx, &fleetv1.SetPricesRequest{Prices: prices}); err != nil {
		t.Fatal(err)
	}
	a := connectCostAgent(t, cp, &fleetv1.Hello{NodeId: "w1", Pool: "web"}, time.Now)
	a.prices = reqstats.Prices{"gpt-4o": {InputPerMTok: 2.5, OutputPerMTok: 10}}
	var events []reqstats.Event
	for _, model := range []string{"gpt-4o-mini", "gpt-4o"} {
		for range 10 {
			events = append(events,
				reqstats.Event{Program: "qa", Model: model, InputTokens: 1000, OutputTokens: 200, Cache: reqstats.CacheMiss, Latency: 800 * time.Millisecond},
				reqstats.Event{Program: "qa", Model: model, Cache: reqstats.CacheHit, Latency: time.Millisecond})
		}
	}
	a.send(events...)

	var resp *fleetv1.GetReportResponse
	fleettest.Eventually(t, 10*time.Second, "token cost of both models in the ledger", func() bool {
		var err error
		resp, err = c.GetReport(ctx, &fleetv1.GetReportRequest{GroupBy: fleetv1.CostGroupBy_COST_GROUP_BY_MODEL})
		return err == nil && lines(resp)["gpt-4o-mini"].GetTokenUsd() > 0 && lines(resp)["gpt-4o"].GetTokenUsd() > 0
	})
	m := lines(resp)
	for model, want := range map[string]float64{"gpt-4o-mini": 0.0027, "gpt-4o": 0.045} {
		l := m[model]
		if !near(l.GetTokenUsd(), want) || !near(l.GetSavedUsd(), want) || l.GetCacheHits() != 10 || l.GetRequests() != 20 {
			t.Errorf("%s: spent %.6f saved %.6f over %d requests (%d hits), want %.6f spent and %.6f saved over 20 (10 hits)",
				model, l.GetTokenUsd(), l.GetSavedUsd(), l.GetRequests(), l.GetCacheHits(), want, want)
		}
	}
}
