package controlplane

import (
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/dspyfleet/dspyfleet/controlplane/store"
)

// httpHandler serves /healthz (the process is up), /readyz (serving the API and able to write
// its store), /metrics and the web dashboard under /ui/. A store that cannot write (a full disk)
// turns /readyz to 503 naming the error but leaves /healthz 200: restarting the process frees no
// disk, and reads, routing and sessions keep working.
func (s *Server) httpHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !s.ready.Load() {
			http.Error(w, "not ready: starting or shutting down", http.StatusServiceUnavailable)
			return
		}
		if err := s.store.WriteErr(); err != nil {
			http.Error(w, fmt.Sprintf("not ready: store cannot write %s: %v", s.store.Path(), err), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.promReg, promhttp.HandlerOpts{Registry: s.promReg}))
	mux.HandleFunc("/ui/", s.serveDashboard)
	mux.Handle("GET /{$}", http.RedirectHandler("/ui/", http.StatusFound))
	return mux
}

// storeWriteMetrics are the gauge of a store that cannot write and the count of its failed writes.
func storeWriteMetrics(st *store.Store) []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "dspyfleet_store_write_failing",
			Help: "1 while the store's last write failed (the control plane is not ready), 0 once a write succeeds.",
		}, func() float64 {
			if st.WriteErr() != nil {
				return 1
			}
			return 0
		}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "dspyfleet_store_write_failures_total",
			Help: "Writes to the store that could not be committed.",
		}, func() float64 { return float64(st.WriteFailures()) }),
	}
}
