package agent

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math"
	mrand "math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dspyfleet/dspyfleet/agent/collector"
	"github.com/dspyfleet/dspyfleet/agent/intake"
	"github.com/dspyfleet/dspyfleet/agent/logs"
	"github.com/dspyfleet/dspyfleet/agent/preempt"
	"github.com/dspyfleet/dspyfleet/agent/proxy"
	"github.com/dspyfleet/dspyfleet/agent/secmon"
	"github.com/dspyfleet/dspyfleet/internal/version"
	"github.com/dspyfleet/dspyfleet/internal/wire"
	"github.com/dspyfleet/dspyfleet/pkg/backoff"
	"github.com/dspyfleet/dspyfleet/pkg/reqstats"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// tracerName names the agent's spans' instrumentation scope.
const tracerName = "github.com/dspyfleet/dspyfleet/agent"

// Agent samples this host and streams its reports to the control plane.
type Agent struct {
	cfg        Config
	log        *slog.Logger
	instanceID string
	hostname   string
	sampler    *collector.Sampler
	buf        *reportBuffer
	state      *stateStore
	requests   *Requests
	stats      *reqstats.Aggregator
	intake     *intake.Intake
	proxy      *proxy.Proxy
	logs       *logs.Analyzer
	secmon     *secmon.Monitor
	dropped    uint64 // intake drops already reported
	cmds       *commander
	actions    *builtActions
	health     *serviceHealth // nil when no service is supervised
	seq        uint64
	connected  atomic.Bool
	sessions   atomic.Uint64
	watcher    *preempt.Watcher // nil without --cloud
	detected   atomic.Value     // capacity type read from the metadata service
	notice     atomic.Pointer[preempt.Notice]
	noticed    chan struct{} // wakes the sender when a notice arrives
	noticeSent atomic.Bool   // the notice went out on a session
	metricsLn  net.Listener  // --metrics-listen; nil when off
	ready      chan struct{} // closed by readyOnce: see Ready
	readyOnce  sync.Once
}

// Stats is a point-in-time view of the agent's delivery counters.
type Stats struct {
	// Connected is true while a session is established.
	Connected bool
	// Sessions counts sessions established since start.
	Sessions uint64
	// Buffered is the number of reports waiting for acknowledgement.
	Buffered int
	// Dropped counts reports lost because the buffer was full.
	Dropped uint64
	// Rejected counts reports the control plane refused as invalid.
	Rejected uint64
	// Acked is the highest report seq the control plane acknowledged.
	Acked uint64
}

// New checks cfg and prepares an agent; it starts nothing.
func New(cfg Config) (*Agent, error) {
	host, err := os.Hostname()
	if err != nil {
		host = ""
	}
	if cfg.NodeID == "" {
		cfg.NodeID = host
		if !idPattern.MatchString(cfg.NodeID) {
			return nil, fmt.Errorf("host name %q is not a valid node id; set --node-id", host)
		}
	}
	if cfg.Watchdog == 0 {
		cfg.Watchdog = 3 * cfg.Interval
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := readToken(&cfg); err != nil {
		return nil, err
	}
	if _, err := dialOptions(cfg); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("--state-dir: %w", err)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cleartextToken(cfg) {
		cfg.Logger.Warn("the agent token goes to a non-loopback control plane without TLS, readable by anyone on the path; set --ca-file or --tls", "server", cfg.Server)
	}
	if cfg.Collectors == nil {
		cfg.Collectors = collector.Default()
	}
	built, err := buildActions(context.Background(), cfg.ActionsConfig, cfg.StateDir, cfg.Logger)
	if err != nil {
		return nil, err
	}
	for k, act := range cfg.Actions {
		built.actions[k] = act
	}
	health := newServiceHealth(built.manager, cfg.ActionsConfig)
	health.recheckAfter(built.actions)
	st, err := openState(cfg.StateDir)
	if err != nil {
		built.close()
		return nil, err
	}
	a := &Agent{}
	id := make([]byte, 8)
	_, _ = rand.Read(id)
	requests := &Requests{}
	*a = Agent{
		cfg:        cfg,
		log:        cfg.Logger.With("node", cfg.NodeID),
		instanceID: hex.EncodeToString(id),
		hostname:   host,
		sampler:    collector.NewSampler(cfg.Collectors),
		buf:        newReportBuffer(cfg.BufferSize),
		state:      st,
		requests:   requests,
		stats:      reqstats.NewAggregator(cfg.Prices, reqstats.DefaultRelativeAccuracy, reqstats.DefaultTopN, time.Now()),
		cmds:       newCommander(cfg.Logger.With("node", cfg.NodeID), st, built.actions, requests),
		actions:    built,
		health:     health,
		noticed:    make(chan struct{}, 1),
		ready:      make(chan struct{}),
	}
	if cfg.Cloud != "" {
		if a.watcher, err = preempt.New(preempt.Config{Cloud: cfg.Cloud, URL: cfg.MetadataURL, Interval: cfg.MetadataInterval, Log: cfg.Logger.With("component", "preempt")}); err != nil {
			built.close()
			_ = st.close()
			return nil, fmt.Errorf("--cloud: %w", err)
		}
	}
	if cfg.Intake.Listen != "" || cfg.Intake.Socket != "" {
		if a.intake, err = intake.New(cfg.Intake, a.stats, cfg.Logger.With("component", "intake")); err != nil {
			built.close()
			_ = st.close()
			return nil, fmt.Errorf("--intake-listen: %w", err)
		}
	}
	if cfg.TracerProvider != nil {
		a.cmds.tracer = cfg.TracerProvider.Tracer(tracerName)
		cfg.Proxy.TracerProvider = cfg.TracerProvider
	}
	if cfg.Proxy.Listen != "" {
		if live := balancedInstances(built.manager, a.health, cfg.Proxy.Upstream); live != nil {
			cfg.Proxy.Instances, a.health.anyServes = live, true
		}
		if a.proxy, err = proxy.New(cfg.Proxy, a.stats, a.requests, a, cfg.Logger.With("component", "proxy")); err != nil {
			built.close()
			_ = st.close()
			return nil, fmt.Errorf("--proxy-listen: %w", err)
		}
	}
	cfg.Logs.CursorFile = filepath.Join(cfg.StateDir, "journal.cursor")
	cfg.Security.CursorFile = filepath.Join(cfg.StateDir, "auth-journal.cursor")
	if cfg.Logs.Enabled() {
		if a.logs, err = logs.New(cfg.Logs, cfg.Logger.With("component", "logs")); err != nil {
			built.close()
			_ = st.close()
			return nil, err
		}
	}
	if cfg.Security.Enabled() {
		if a.secmon, err = secmon.New(cfg.Security, cfg.Logger.With("component", "security")); err != nil {
			built.close()
			_ = st.close()
			return nil, err
		}
	}
	// Bound last: no later failure of New leaves it open.
	if cfg.MetricsListen != "" {
		if a.metricsLn, err = net.Listen("tcp", cfg.MetricsListen); err != nil {
			built.close()
			_ = st.close()
			return nil, fmt.Errorf("--metrics-listen: %w", err)
		}
	}
	return a, nil
}

// ProxyAddr is the bound address of the sidecar proxy, "" when it is off. It waits until Run
// has bound the proxy's listener.
func (a *Agent) ProxyAddr() string {
	if a.proxy == nil {
		return ""
	}
	return a.proxy.Addr()
}

// IntakeAddr is the bound TCP address of the request intake, "" when it is off. It waits until
// Run has bound the intake's listeners.
func (a *Agent) IntakeAddr() string {
	if a.intake == nil {
		return ""
	}
	return a.intake.Addr()
}

// queueLength is what the report gives as the node's queue: the requests waiting now in the
// sidecar proxy for an upstream slot, plus the largest queue the service itself reported to the
// intake since the previous report.
func (a *Agent) queueLength() uint32 {
	var n int
	if a.proxy != nil {
		n = a.proxy.Queued()
	}
	if a.intake != nil {
		q, _ := a.intake.TakeQueueLength()
		n += q
	}
	return uint32(min(n, math.MaxUint32))
}

// intakeDropped returns the events the intake refused since the previous report.
func (a *Agent) intakeDropped() uint64 {
	if a.intake == nil {
		return 0
	}
	d := a.intake.Dropped()
	delta := d - a.dropped
	a.dropped = d
	return delta
}

// Record adds one completed DSPy request to the current report window. Request intake calls
// it; it is cheap and safe for concurrent use.
func (a *Agent) Record(e reqstats.Event) { a.stats.Add(e) }

// Requests is the in-flight request counter that request intake updates and drains wait on.
func (a *Agent) Requests() *Requests { return a.requests }

// Draining reports whether an operator's drain, a restart's drain or an interruption notice is
// in force: request intake must refuse new requests while it is.
func (a *Agent) Draining() bool {
	return a.cmds.isDraining() || a.cmds.isRestarting() || a.notice.Load() != nil
}

// NodeID is the node id the agent reports as.
func (a *Agent) NodeID() string { return a.cfg.NodeID }

// Stats returns the agent's delivery counters.
func (a *Agent) Stats() Stats {
	buffered, dropped, rejected, acked := a.buf.counts()
	return Stats{
		Connected: a.connected.Load(), Sessions: a.sessions.Load(),
		Buffered: buffered, Dropped: dropped, Rejected: rejected, Acked: acked,
	}
}

// Run samples, streams and carries out commands until ctx ends, then says goodbye to the control
// plane so the node becomes disconnected rather than down. It returns nil on a clean stop and
// closes the agent's state store.
func (a *Agent) Run(ctx context.Context) error {
	defer a.state.close()
	defer a.actions.close()
	if err := a.cmds.recoverRunning(); err != nil {
		return fmt.Errorf("recover commands: %w", err)
	}
	g, gctx := errgroup.WithContext(ctx)
	if m := a.actions.manager; m != nil {
		g.Go(func() error { return m.Run(gctx) })
		g.Go(func() error { return a.health.run(gctx, a.cfg.Interval) })
	}
	if a.intake != nil {
		g.Go(func() error { return a.intake.Run(gctx) })
	}
	if a.proxy != nil {
		g.Go(func() error { return a.proxy.Run(gctx) })
	}
	if a.logs != nil {
		g.Go(func() error { return a.logs.Run(gctx) })
	}
	if a.secmon != nil {
		g.Go(func() error { return a.secmon.Run(gctx) })
	}
	a.probeCapacity(gctx)
	if a.watcher != nil {
		g.Go(func() error { return a.watcher.Run(gctx, a.Interrupt) })
	}
	if a.metricsLn != nil {
		g.Go(func() error { return a.serveMetrics(gctx, a.metricsLn) })
	}
	g.Go(func() error { return a.sampleLoop(gctx) })
	g.Go(func() error { return a.connectLoop(gctx) })
	g.Go(func() error { return a.cmds.run(gctx) })
	return g.Wait()
}

// sampleLoop makes a report every interval, starting at once.
func (a *Agent) sampleLoop(ctx context.Context) error {
	t := time.NewTicker(a.cfg.Interval)
	defer t.Stop()
	last := time.Now()
	for {
		now := time.Now()
		a.seq++
		rep := &fleetv1.MetricsReport{
			Time:   timestamppb.New(now),
			Seq:    a.seq,
			Host:   a.sampler.Sample(ctx, now),
			App:    wire.AppFromWindow(a.stats.Flush(now), a.requests.InFlight(), a.intakeDropped()),
			Window: durationpb.New(now.Sub(last)),
		}
		rep.App.QueueLength = a.queueLength()
		rep.ServiceHealth = a.health.verdict()
		if a.logs != nil {
			rep.Logs = a.logs.Flush()
		}
		if a.secmon != nil {
			rep.Security = a.secmon.Flush()
		}
		a.buf.push(rep)
		last = now
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// connectLoop keeps a session open, reconnecting with capped exponential backoff and full
// jitter; the backoff resets once a session is established. A control plane that refuses the
// agent (its credential or certificate) is retried far more slowly, from 30 s to 5 min, with an
// error that says what to fix; the agent is ready (Ready) once a session is established, or once
// an attempt fails for any other reason (a control plane down at boot is waited for with the
// reports buffered), never while it is refused.
func (a *Agent) connectLoop(ctx context.Context) error {
	attempt, refusals := 0, 0
	for {
		established, err := a.session(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if established {
			attempt, refusals = 0, 0
		}
		if !established && refused(err) {
			d := refusedBackoff.Upper(refusals, mrand.Float64())
			refusals++
			a.log.Error("the control plane refuses this agent: fix its credential (token file, per-node token, client certificate or CA) or the node id it is bound to; the agent does not report ready until it is accepted",
				"server", a.cfg.Server, "err", err, "refusals", refusals, "retry_in", d.Round(time.Second))
			if !sleepCtx(ctx, d) {
				return nil
			}
			continue
		}
		a.markReady()
		d := backoff.Policy{Initial: a.cfg.BackoffInitial, Max: a.cfg.BackoffMax}.Full(attempt, mrand.Float64())
		attempt++
		a.log.Warn("control plane session ended; reconnecting", "server", a.cfg.Server, "err", err, "retry_in", d.Round(time.Millisecond))
		if !sleepCtx(ctx, d) {
			return nil
		}
	}
}

// markReady closes Ready, once.
func (a *Agent) markReady() { a.readyOnce.Do(func() { close(a.ready) }) }

// Ready is closed once the agent has a session, or has failed to reach the control plane for a
// reason other than a refusal: what systemd's READY=1 waits for.
func (a *Agent) Ready() <-chan struct{} { return a.ready }

// hello describes this agent.
func (a *Agent) hello() *fleetv1.Hello {
	_, dropped, _, _ := a.buf.counts()
	return &fleetv1.Hello{
		NodeId:           a.cfg.NodeID,
		Pool:             a.cfg.Pool,
		Labels:           a.cfg.Labels,
		Weight:           a.cfg.Weight,
		HourlyPrice:      a.cfg.HourlyPrice,
		InstanceType:     a.cfg.InstanceType,
		AgentVersion:     version.Version,
		Hostname:         a.hostname,
		InstanceId:       a.instanceID,
		ReportInterval:   durationpb.New(a.cfg.Interval),
		ReportsDropped:   dropped,
		Draining:         a.cmds.isDraining(),
		LastCommandSeq:   a.state.lastSeq(),
		AdvertiseAddress: a.advertiseAddr(),
		CapacityType:     wire.CapacityType(a.capacityType()),
		ServiceHealth:    a.health.verdict(),
	}
}

// advertiseAddr is where routing sends this node requests: the configured address, else the
// proxy's.
func (a *Agent) advertiseAddr() string {
	if a.cfg.AdvertiseAddr != "" {
		return a.cfg.AdvertiseAddr
	}
	return a.ProxyAddr()
}
