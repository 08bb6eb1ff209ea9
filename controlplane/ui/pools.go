package ui

import (
	"net/http"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/dspyfleet/dspyfleet/pkg/reqstats"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// plotRange is a time span the pool plots offer, with the bucket each point covers.
type plotRange struct {
	span, step time.Duration
}

// plotRanges are the spans of the pool page: an hour by minute, a day by quarter hour, a week
// by two hours (about a hundred points each).
var plotRanges = map[string]plotRange{
	"1h": {time.Hour, time.Minute},
	"1d": {24 * time.Hour, 15 * time.Minute},
	"1w": {7 * 24 * time.Hour, 2 * time.Hour},
}

// series are a pool's request figures per bucket, as uPlot takes them: one array per
// figure, aligned on T (unix seconds at each bucket's start). A figure without requests in
// its bucket is null.
type series struct {
	Step         int64      `json:"step"`
	T            []int64    `json:"t"`
	RPS          []float64  `json:"rps"`
	ErrorRate    []*float64 `json:"errorRate"`
	P50          []*float64 `json:"p50"`
	P95          []*float64 `json:"p95"`
	P99          []*float64 `json:"p99"`
	TokensPerSec []float64  `json:"tokensPerSec"`
	CacheHit     []*float64 `json:"cacheHit"`
}

// poolView is what the pool page shows: the plots, routing and scaling.
type poolView struct {
	Pool   string `json:"pool"`
	Range  string `json:"range"`
	Series series `json:"series"`
	// Routing is RoutingService.GetStatus in protojson.
	Routing rawJSON `json:"routing"`
	// Scaling is ScalingService.GetStatus in protojson, null when the pool has no scaling
	// policy (ScalingError says so).
	Scaling      rawJSON `json:"scaling"`
	ScalingError string  `json:"scalingError,omitempty"`
	// Forecast is the scaling forecast's load per minute ahead, aligned on ForecastT.
	ForecastT []int64   `json:"forecastT"`
	Forecast  []float64 `json:"forecast"`
}

// pool answers a pool's plots over ?range= (1h, 1d or 1w), its routing and scaling status.
func (h *Handler) pool(w http.ResponseWriter, r *http.Request, s *session) {
	ctx, name := callContext(r.Context(), s), r.PathValue("pool")
	rangeName := r.URL.Query().Get("range")
	if rangeName == "" {
		rangeName = "1h"
	}
	pr, ok := plotRanges[rangeName]
	if !ok {
		writeError(w, http.StatusBadRequest, "range: "+rangeName+" is not one of 1h, 1d, 1w")
		return
	}
	// Routing first: it checks the pool name and the session's token, which the plots then rely on.
	rt, err := h.routing.GetStatus(ctx, &fleetv1.RoutingServiceGetStatusRequest{Pool: name})
	if err != nil {
		writeStatus(w, err)
		return
	}
	view := poolView{Pool: name, Range: rangeName}
	if view.Routing, err = protojson.Marshal(rt); err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	sc, err := h.scaling.GetStatus(ctx, &fleetv1.ScalingServiceGetStatusRequest{Pool: name})
	switch {
	case status.Code(err) == codes.NotFound:
		view.ScalingError = status.Convert(err).Message()
	case err != nil:
		writeStatus(w, err)
		return
	default:
		if view.Scaling, err = protojson.Marshal(sc); err != nil {
			writeError(w, http.StatusInternalServerError, err.Error())
			return
		}
		if d := sc.GetDecision().GetTime(); d != nil {
			at := d.AsTime().Truncate(time.Minute)
			for i, v := range sc.GetForecast().GetLoad() {
				view.ForecastT = append(view.ForecastT, at.Add(time.Duration(i+1)*time.Minute).Unix())
				view.Forecast = append(view.Forecast, v)
			}
		}
	}
	now := h.cfg.Stats.Now()
	from := now.Add(-pr.span)
	byNode, err := h.cfg.Stats.Window(name, from)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "request rollups: "+err.Error())
		return
	}
	var all []reqstats.Window
	for _, ws := range byNode {
		all = append(all, ws...)
	}
	buckets, err := reqstats.Series(all, from, now, pr.step)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "request rollups: "+err.Error())
		return
	}
	view.Series = toSeries(buckets, pr.step)
	if view.Scaling == nil {
		view.Scaling = rawJSON("null")
	}
	writeJSON(w, view)
}

// toSeries turns buckets into the plots' arrays.
func toSeries(buckets []reqstats.Window, step time.Duration) series {
	s := series{Step: int64(step / time.Second)}
	ifAny := func(w reqstats.Window, v float64) *float64 {
		if w.Requests == 0 {
			return nil
		}
		return &v
	}
	quantile := func(w reqstats.Window, q float64) *float64 {
		if w.Requests == 0 || w.Latency == nil || w.Latency.Count() == 0 {
			return nil
		}
		v := w.Latency.Quantile(q)
		return &v
	}
	for _, b := range buckets {
		s.T = append(s.T, b.Start.Unix())
		s.RPS = append(s.RPS, b.RequestsPerSecond())
		s.ErrorRate = append(s.ErrorRate, ifAny(b, b.ErrorRate()))
		s.P50 = append(s.P50, quantile(b, 0.5))
		s.P95 = append(s.P95, quantile(b, 0.95))
		s.P99 = append(s.P99, quantile(b, 0.99))
		s.TokensPerSec = append(s.TokensPerSec, float64(b.InputTokens+b.OutputTokens)/step.Seconds())
		var hit *float64
		if b.CacheHits+b.CacheMisses > 0 {
			hit = ifAny(b, b.CacheHitRatio())
		}
		s.CacheHit = append(s.CacheHit, hit)
	}
	return s
}
