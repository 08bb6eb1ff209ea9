// Package wire converts DSPy request statistics (pkg/reqstats) and scaling policies
// (pkg/scaling) between their pure form and the API messages, so the agent, the control plane
// and fleetctl encode them the same way.
package wire

import (
	"fmt"
	"time"

	"github.com/dspyfleet/dspyfleet/pkg/reqstats"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// SketchToProto encodes a sketch; nil stays nil.
func SketchToProto(s *reqstats.Sketch) *fleetv1.Sketch {
	if s == nil {
		return nil
	}
	offset, counts, zero := s.Buckets()
	return &fleetv1.Sketch{
		RelativeAccuracy: s.RelativeAccuracy(), Offset: offset, Counts: counts, ZeroCount: zero,
		Sum: s.Sum(), Min: s.Min(), Max: s.Max(),
	}
}

// SketchFromProto decodes and validates a sketch; nil stays nil.
func SketchFromProto(p *fleetv1.Sketch) (*reqstats.Sketch, error) {
	if p == nil {
		return nil, nil
	}
	return reqstats.FromBuckets(p.GetRelativeAccuracy(), p.GetOffset(), p.GetCounts(), p.GetZeroCount(), p.GetSum(), p.GetMin(), p.GetMax())
}

// AppFromWindow encodes a window as a report's app section.
func AppFromWindow(w reqstats.Window, inFlight int, intakeDropped uint64) *fleetv1.AppMetrics {
	a := &fleetv1.AppMetrics{
		Requests: w.Requests, Errors: w.Errors, ErrorRate: w.ErrorRate(),
		InFlight: uint32(max(inFlight, 0)), RequestsPerSecond: w.RequestsPerSecond(),
		InputTokens: w.InputTokens, OutputTokens: w.OutputTokens,
		CacheHits: w.CacheHits, CacheMisses: w.CacheMisses, CacheHitRatio: w.CacheHitRatio(),
		CostUsd: w.CostUSD, SavedUsd: w.SavedUSD, IntakeDropped: intakeDropped,
		Latency: SketchToProto(w.Latency), Ttft: SketchToProto(w.TTFT),
		Models: breakdownsToProto(w.Models), Programs: breakdownsToProto(w.Programs),
	}
	if w.Latency != nil {
		a.LatencyP50Ms, a.LatencyP95Ms, a.LatencyP99Ms = w.Latency.Quantile(0.5), w.Latency.Quantile(0.95), w.Latency.Quantile(0.99)
	}
	if w.TTFT != nil {
		a.TtftP95Ms = w.TTFT.Quantile(0.95)
	}
	return a
}

// WindowFromApp decodes a report's app section as the window [start, end).
func WindowFromApp(a *fleetv1.AppMetrics, start, end time.Time) (reqstats.Window, error) {
	w := reqstats.Window{
		Start: start, End: end,
		Requests: a.GetRequests(), Errors: a.GetErrors(), InputTokens: a.GetInputTokens(), OutputTokens: a.GetOutputTokens(),
		CacheHits: a.GetCacheHits(), CacheMisses: a.GetCacheMisses(), CostUSD: a.GetCostUsd(), SavedUSD: a.GetSavedUsd(),
	}
	var err error
	if w.Latency, err = SketchFromProto(a.GetLatency()); err != nil {
		return w, fmt.Errorf("latency: %w", err)
	}
	if w.TTFT, err = SketchFromProto(a.GetTtft()); err != nil {
		return w, fmt.Errorf("ttft: %w", err)
	}
	if w.Models, err = breakdownsFromProto(a.GetModels()); err != nil {
		return w, fmt.Errorf("models: %w", err)
	}
	if w.Programs, err = breakdownsFromProto(a.GetPrograms()); err != nil {
		return w, fmt.Errorf("programs: %w", err)
	}
	return w, nil
}

func breakdownsToProto(bs []reqstats.Breakdown) []*fleetv1.AppBreakdown {
	out := make([]*fleetv1.AppBreakdown, len(bs))
	for i, b := range bs {
		out[i] = &fleetv1.AppBreakdown{
			Name: b.Name, Requests: b.Requests, Errors: b.Errors, InputTokens: b.InputTokens, OutputTokens: b.OutputTokens,
			CacheHits: b.CacheHits, CacheMisses: b.CacheMisses, CostUsd: b.CostUSD, SavedUsd: b.SavedUSD, Latency: SketchToProto(b.Latency),
		}
	}
	return out
}

func breakdownsFromProto(ps []*fleetv1.AppBreakdown) ([]reqstats.Breakdown, error) {
	out := make([]reqstats.Breakdown, len(ps))
	for i, p := range ps {
		l, err := SketchFromProto(p.GetLatency())
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.GetName(), err)
		}
		out[i] = reqstats.Breakdown{
			Name: p.GetName(), Requests: p.GetRequests(), Errors: p.GetErrors(), InputTokens: p.GetInputTokens(), OutputTokens: p.GetOutputTokens(),
			CacheHits: p.GetCacheHits(), CacheMisses: p.GetCacheMisses(), CostUSD: p.GetCostUsd(), SavedUSD: p.GetSavedUsd(), Latency: l,
		}
	}
	return out, nil
}
