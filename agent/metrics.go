package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/dspyfleet/dspyfleet/internal/version"
)

// loopbackListen reports whether addr is empty or a host:port on a loopback address (or
// "localhost").
func loopbackListen(addr string) bool {
	if addr == "" {
		return true
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// metricsRegistry is what the agent's /metrics serves: its delivery to the control plane, its
// build, and the Go runtime's and the process's standard series.
func (a *Agent) metricsRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	stat := func(f func(Stats) float64) func() float64 { return func() float64 { return f(a.Stats()) } }
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "dspyfleet_agent_build_info",
		Help:        "Always 1; the labels name the agent's version, VCS revision and Go version.",
		ConstLabels: prometheus.Labels{"version": version.Version, "revision": version.Revision(), "goversion": runtime.Version()},
	})
	buildInfo.Set(1)
	reg.MustRegister(buildInfo,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "dspyfleet_agent_connected", Help: "1 while the agent has a session with the control plane, else 0."},
			stat(func(s Stats) float64 {
				if s.Connected {
					return 1
				}
				return 0
			})),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "dspyfleet_agent_sessions_total", Help: "Sessions established with the control plane since the agent started."},
			stat(func(s Stats) float64 { return float64(s.Sessions) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "dspyfleet_agent_reports_buffered", Help: "Reports waiting for the control plane's acknowledgement."},
			stat(func(s Stats) float64 { return float64(s.Buffered) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "dspyfleet_agent_report_acked_seq", Help: "Sequence number of the last report the control plane acknowledged."},
			stat(func(s Stats) float64 { return float64(s.Acked) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "dspyfleet_agent_reports_dropped_total", Help: "Reports dropped from a full buffer (the oldest first) before the control plane had them."},
			stat(func(s Stats) float64 { return float64(s.Dropped) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "dspyfleet_agent_reports_rejected_total", Help: "Reports the control plane refused as invalid."},
			stat(func(s Stats) float64 { return float64(s.Rejected) })),
	)
	return reg
}

// MetricsAddr is the bound address of the agent's /metrics, "" when it is off.
func (a *Agent) MetricsAddr() string {
	if a.metricsLn == nil {
		return ""
	}
	return a.metricsLn.Addr().String()
}

// serveMetrics serves /metrics on ln until ctx ends.
func (a *Agent) serveMetrics(ctx context.Context, ln net.Listener) error {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(a.metricsRegistry(), promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(a.log.Handler(), slog.LevelDebug)}
	a.log.Info("agent metrics listening", "addr", ln.Addr().String())
	stop := context.AfterFunc(ctx, func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	})
	defer stop()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("--metrics-listen %s: %w", ln.Addr(), err)
	}
	return nil
}
