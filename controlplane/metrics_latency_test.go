package controlplane_test

import (
	"strings"
	"testing"
	"time"

	"github.com/dspyfleet/dspyfleet/internal/fleettest"
	"github.com/dspyfleet/dspyfleet/pkg/reqstats"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// TestLatencyHistogram: the pool's requests show as a cumulative Prometheus histogram in base
// units, aggregable over nodes and pools, where the only latency series was a per-node p95 gauge
// in milliseconds: two agents' 120 ms, 400 ms and 3 s requests land in their buckets.
func TestLatencyHistogram(t *testing.T) {
	cp := fleettest.StartControlPlane(t, fleettest.FastConfig(t))
	req := func(d time.Duration) reqstats.Event {
		return reqstats.Event{Program: "qa", Model: "m", InputTokens: 10, OutputTokens: 5, Cache: reqstats.CacheMiss, Latency: d}
	}
	a := connectCostAgent(t, cp, &fleetv1.Hello{NodeId: "w1", Pool: "web"}, time.Now)
	b := connectCostAgent(t, cp, &fleetv1.Hello{NodeId: "w2", Pool: "web"}, time.Now)
	a.send(req(120*time.Millisecond), req(400*time.Millisecond))
	b.send(req(3 * time.Second))
	body := scrape(t, cp)
	for _, want := range []string{
		`dspyfleet_dspy_request_duration_seconds_bucket{pool="web",le="0.1"} 0`,
		`dspyfleet_dspy_request_duration_seconds_bucket{pool="web",le="0.25"} 1`,
		`dspyfleet_dspy_request_duration_seconds_bucket{pool="web",le="0.5"} 2`,
		`dspyfleet_dspy_request_duration_seconds_bucket{pool="web",le="2.5"} 2`,
		`dspyfleet_dspy_request_duration_seconds_bucket{pool="web",le="5"} 3`,
		`dspyfleet_dspy_request_duration_seconds_bucket{pool="web",le="+Inf"} 3`,
		`dspyfleet_dspy_request_duration_seconds_count{pool="web"} 3`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if !strings.Contains(body, `dspyfleet_dspy_request_duration_seconds_sum{pool="web"} 3.5`) {
		t.Errorf("the latency sum is not 3.52 s:\n%s", grep(body, "request_duration_seconds_sum"))
	}
	if strings.Contains(body, "_ms{") {
		t.Errorf("a series in milliseconds is left:\n%s", grep(body, "_ms{"))
	}
}

// grep returns the lines of body containing s.
func grep(body, s string) string {
	var out []string
	for _, l := range strings.Split(body, "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
