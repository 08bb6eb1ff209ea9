package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httputil"
	"strconv"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/errgroup"

	"github.com/dspyfleet/dspyfleet/internal/tracing"
	"github.com/dspyfleet/dspyfleet/pkg/reqstats"
)

// Sink receives one event per proxied request, from the requests' own goroutines, so Add must
// be safe for concurrent use and quick. The agent passes its reqstats.Aggregator.
type Sink interface {
	Add(reqstats.Event)
}

// Tracker counts requests in flight; the agent's Requests.
type Tracker interface {
	Begin() (end func())
}

// DrainState says whether the node is draining.
type DrainState interface {
	Draining() bool
}

// Stats are the proxy's running totals.
type Stats struct {
	Requests uint64 // proxied, whatever their outcome
	Errors   uint64 // proxied requests that failed (status 500 or more, or upstream failure)
	Rejected uint64 // refused with 503 while draining
	// QueueRejected counts requests refused with 503 because the queue was full or their wait
	// for an upstream slot timed out.
	QueueRejected uint64
	// Queued is the number of requests waiting for an upstream slot now.
	Queued   int64
	BytesIn  uint64 // request body bytes sent upstream
	BytesOut uint64 // response body bytes copied to clients
}

// Proxy is the sidecar reverse proxy.
type Proxy struct {
	cfg        Config
	sink       Sink
	tracker    Tracker
	drain      DrainState
	log        *slog.Logger
	rp         *httputil.ReverseProxy
	transport  *http.Transport
	balance    *balancer // nil: every request goes to the configured upstream
	retryAfter string
	tracer     trace.Tracer // nil: tracing is off

	requests, errors, rejected, bytesIn, bytesOut atomic.Uint64

	slots         chan struct{} // one per request at the upstream; nil: no limit
	queued        atomic.Int64  // requests waiting for a slot
	queueRejected atomic.Uint64

	started atomic.Bool
	bound   chan struct{} // closed once Run has listened or failed to
	addr    string        // the bound address, written before bound closes
}

// New checks cfg and returns a proxy that gives sink one event per request, counts requests in
// flight with tracker and refuses new ones while drain says so; tracker and drain may be nil.
// It binds nothing; Run does. A nil log means slog.Default().
func New(cfg Config, sink Sink, tracker Tracker, drain DrainState, log *slog.Logger) (*Proxy, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if sink == nil {
		return nil, errors.New("proxy: no sink")
	}
	if log == nil {
		log = slog.Default()
	}
	upstream, _ := ParseUpstream(cfg.Upstream) // checked by Validate
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 256
	transport.DisableCompression = true // pass the client's Accept-Encoding through untouched
	cfg = cfg.withDefaults()
	p := &Proxy{
		cfg:        cfg,
		sink:       sink,
		tracker:    tracker,
		drain:      drain,
		log:        log,
		transport:  transport,
		retryAfter: strconv.FormatInt(int64(math.Ceil(cfg.RetryAfter.Seconds())), 10),
		bound:      make(chan struct{}),
	}
	if cfg.Instances != nil {
		p.balance = newBalancer(cfg.Instances, upstream.Hostname())
	}
	if cfg.MaxConcurrency > 0 {
		p.slots = make(chan struct{}, cfg.MaxConcurrency)
	}
	if cfg.TracerProvider != nil {
		p.tracer = cfg.TracerProvider.Tracer(tracerName)
	}
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			if u := exchangeOf(pr.In.Context()).instance; u != nil {
				target := *upstream
				target.Host = u.addr
				pr.SetURL(&target)
			} else {
				pr.SetURL(upstream)
			}
			pr.Out.Host = pr.In.Host // the app sees the Host its clients asked for
			pr.Out.Header["X-Forwarded-For"] = pr.In.Header["X-Forwarded-For"]
			pr.SetXForwarded()
			if p.tracer != nil {
				tracing.Propagator.Inject(pr.Out.Context(), propagation.HeaderCarrier(pr.Out.Header))
			}
		},
		Transport:      transport,
		BufferPool:     &bufferPool{},
		ModifyResponse: p.modifyResponse,
		ErrorHandler:   p.upstreamFailed,
		ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	return p, nil
}

// Handler returns the proxy's HTTP handler.
func (p *Proxy) Handler() http.Handler { return p }

// ServeHTTP forwards r to the upstream and records what happened.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p.drain != nil && p.drain.Draining() {
		p.rejected.Add(1)
		w.Header().Set("Retry-After", p.retryAfter)
		w.Header().Set("Connection", "close") // let the client's next attempt find another node
		http.Error(w, "this node is draining; retry on another", http.StatusServiceUnavailable)
		return
	}
	if p.tracker != nil {
		end := p.tracker.Begin()
		defer end()
	}
	x := &exchange{start: p.cfg.Now()} // a request's latency includes its wait for a slot
	if p.slots != nil {
		if !p.acquire(w, r) {
			return
		}
		defer func() { <-p.slots }()
	}
	if p.balance != nil {
		if x.instance = p.balance.pick(); x.instance != nil {
			defer p.balance.done(x.instance)
		}
	}
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = &requestBody{ReadCloser: r.Body, n: &x.bytesIn}
	}
	ctx := context.WithValue(r.Context(), exchangeKey{}, x)
	var span trace.Span
	if p.tracer != nil {
		ctx, span = p.tracer.Start(tracing.Propagator.Extract(ctx, propagation.HeaderCarrier(r.Header)), "proxy "+r.Method,
			trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(attribute.String("http.request.method", r.Method), attribute.String("url.path", r.URL.Path)))
	}
	r = r.WithContext(ctx)
	completed := false
	defer func() {
		// Also runs when the reverse proxy aborts the handler with http.ErrAbortHandler.
		e := p.event(x, p.cfg.Now(), !completed, r.Context().Err() != nil)
		p.record(e, x)
		if span != nil {
			endSpan(span, e)
		}
	}()
	p.rp.ServeHTTP(w, r)
	completed = true
}

// acquire takes an upstream slot for r, waiting in the queue for one; it answers 503 itself and
// returns false when the queue is full or the wait times out, and returns false when the client
// leaves first.
func (p *Proxy) acquire(w http.ResponseWriter, r *http.Request) bool {
	select {
	case p.slots <- struct{}{}:
		return true
	default:
	}
	if p.queued.Add(1) > int64(p.cfg.MaxQueue) {
		p.queued.Add(-1)
		p.refuseQueued(w, fmt.Sprintf("this node's queue is full (%d requests waiting for %d upstream slots); retry on another", p.cfg.MaxQueue, p.cfg.MaxConcurrency))
		return false
	}
	defer p.queued.Add(-1)
	t := time.NewTimer(p.cfg.QueueTimeout)
	defer t.Stop()
	select {
	case p.slots <- struct{}{}:
		return true
	case <-t.C:
		p.refuseQueued(w, fmt.Sprintf("no upstream slot became free within %s; retry on another node", p.cfg.QueueTimeout))
	case <-r.Context().Done():
	}
	return false
}

// refuseQueued answers a request the queue cannot take.
func (p *Proxy) refuseQueued(w http.ResponseWriter, why string) {
	p.queueRejected.Add(1)
	w.Header().Set("Retry-After", p.retryAfter)
	http.Error(w, why, http.StatusServiceUnavailable)
}

// Queued returns the number of requests waiting for an upstream slot.
func (p *Proxy) Queued() int { return int(p.queued.Load()) }

// record adds e to the totals and hands it to the sink.
func (p *Proxy) record(e reqstats.Event, x *exchange) {
	p.requests.Add(1)
	if e.Error {
		p.errors.Add(1)
	}
	p.bytesIn.Add(uint64(x.bytesIn.Load()))
	p.bytesOut.Add(uint64(x.bytesOut))
	p.sink.Add(e)
}

// Stats returns the running totals.
func (p *Proxy) Stats() Stats {
	return Stats{
		Requests:      p.requests.Load(),
		Errors:        p.errors.Load(),
		Rejected:      p.rejected.Load(),
		QueueRejected: p.queueRejected.Load(),
		Queued:        p.queued.Load(),
		BytesIn:       p.bytesIn.Load(),
		BytesOut:      p.bytesOut.Load(),
	}
}

// Addr blocks until Run has bound its listener, then returns its address ("" when binding
// failed). It never returns if Run is not called.
func (p *Proxy) Addr() string {
	<-p.bound
	return p.addr
}

// Run serves until ctx ends, then stops taking connections and lets requests in flight finish
// for up to ShutdownTimeout before closing them. It returns nil after a clean stop. Run may be
// called once.
func (p *Proxy) Run(ctx context.Context) error {
	if !p.started.CompareAndSwap(false, true) {
		return errors.New("proxy: Run called twice")
	}
	ln, err := net.Listen("tcp", p.cfg.Listen)
	if err != nil {
		close(p.bound)
		return fmt.Errorf("proxy: %w", err)
	}
	p.addr = ln.Addr().String()
	close(p.bound)
	p.log.Info("proxy listening", "addr", p.addr, "upstream", p.cfg.Upstream)
	defer p.transport.CloseIdleConnections()

	srv := &http.Server{
		Handler:           p,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(p.log.Handler(), slog.LevelDebug),
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("proxy: serve: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.cfg.ShutdownTimeout)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			p.log.Warn("proxy: closing requests still in flight", "err", err)
			return srv.Close()
		}
		return nil
	})
	return g.Wait()
}
