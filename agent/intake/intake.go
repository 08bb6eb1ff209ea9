package intake

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/dspyfleet/dspyfleet/pkg/reqstats"
)

// shutdownTimeout bounds how long Run waits for open requests once its context ends.
const shutdownTimeout = 5 * time.Second

// Sink receives accepted events, one at a time from a single goroutine. Add should return
// quickly: while it runs, the queue fills. The agent passes its reqstats.Aggregator.
type Sink interface {
	Add(reqstats.Event)
}

// Intake is the local request-reporting endpoint.
type Intake struct {
	cfg     Config
	sink    Sink
	log     *slog.Logger
	queue   *queue
	handler http.Handler
	dropped atomic.Uint64
	waiting atomic.Int64 // 1 + the largest queue_length reported since the last take; 0: none

	started atomic.Bool
	bound   chan struct{} // closed once Run has listened or failed to
	addr    string        // the bound TCP address, written before bound closes
}

// New checks cfg and returns an intake that hands accepted events to sink. It binds nothing;
// Run does. A nil log means slog.Default().
func New(cfg Config, sink Sink, log *slog.Logger) (*Intake, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if sink == nil {
		return nil, errors.New("intake: no sink")
	}
	if log == nil {
		log = slog.Default()
	}
	cfg = cfg.withDefaults()
	i := &Intake{
		cfg:   cfg,
		sink:  sink,
		log:   log,
		queue: newQueue(cfg.QueueSize),
		bound: make(chan struct{}),
	}
	i.handler = i.routes()
	return i, nil
}

// Handler serves POST /v1/requests and GET /healthz. Events it accepts reach the sink only
// while Run is running.
func (i *Intake) Handler() http.Handler { return i.handler }

// Dropped is the number of valid events refused because the queue was full.
func (i *Intake) Dropped() uint64 { return i.dropped.Load() }

// noteQueue keeps n if it is the largest queue_length reported since the last take.
func (i *Intake) noteQueue(n int64) {
	for {
		old := i.waiting.Load()
		if old > n || i.waiting.CompareAndSwap(old, n+1) {
			return
		}
	}
}

// TakeQueueLength returns the largest queue_length the service reported since the last call
// (requests waiting for one of its workers) and forgets it; ok is false when none was reported.
func (i *Intake) TakeQueueLength() (n int, ok bool) {
	v := i.waiting.Swap(0)
	return int(max(v-1, 0)), v > 0
}

// Addr blocks until Run has bound its listeners, then returns the TCP address ("" when TCP is
// disabled or binding failed). It never returns if Run is not called.
func (i *Intake) Addr() string {
	<-i.bound
	return i.addr
}

// Run listens on the TCP address and the Unix socket, serves until ctx ends, then stops taking
// requests, lets open ones finish (for up to 5 s), delivers every queued event to the sink and
// removes the socket file. It returns nil after a clean stop. Run may be called once.
func (i *Intake) Run(ctx context.Context) error {
	if !i.started.CompareAndSwap(false, true) {
		return errors.New("intake: Run called twice")
	}
	lns, err := i.listen()
	if err != nil {
		close(i.bound)
		return err
	}
	for _, ln := range lns {
		if tcp, ok := ln.Addr().(*net.TCPAddr); ok {
			i.addr = tcp.String()
			if !tcp.IP.IsLoopback() {
				i.log.Warn("request intake listens beyond loopback without authentication", "addr", i.addr)
			}
		}
	}
	close(i.bound)
	i.log.Info("request intake listening", "addrs", addrs(lns))

	srv := &http.Server{
		Handler:           i.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(i.log.Handler(), slog.LevelDebug),
	}
	stop := make(chan struct{})
	g, gctx := errgroup.WithContext(ctx)
	for _, ln := range lns {
		g.Go(func() error {
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("intake: serve %s: %w", ln.Addr(), err)
			}
			return nil
		})
	}
	g.Go(func() error {
		i.queue.run(stop, i.sink)
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		defer close(stop) // after the last handler: its events are delivered too
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			i.log.Warn("request intake: closing requests still open", "err", err)
			return srv.Close()
		}
		return nil
	})
	return g.Wait()
}

// addrs lists the listeners' addresses for a log line.
func addrs(lns []net.Listener) string {
	s := make([]string, len(lns))
	for k, ln := range lns {
		s[k] = ln.Addr().Network() + ":" + ln.Addr().String()
	}
	return strings.Join(s, ",")
}
