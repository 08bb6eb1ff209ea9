package sim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/dspyfleet/dspyfleet/pkg/backoff"
	"github.com/dspyfleet/dspyfleet/pkg/reqstats"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// Version is the agent version simulated agents announce.
const Version = "fleetsim"

// reconnect is a simulated agent's reconnect backoff, with full jitter as the real agent's.
var reconnect = backoff.Policy{Initial: 200 * time.Millisecond, Max: 5 * time.Second}

// goodbyeTimeout bounds the wait for the control plane to close a stream after a goodbye.
const goodbyeTimeout = 2 * time.Second

// AgentConfig describes one simulated host.
type AgentConfig struct {
	NodeID           string
	Pool             string
	Labels           map[string]string
	Weight           float64
	HourlyPrice      float64
	InstanceType     string
	AdvertiseAddress string
	// Interval is the report interval announced in the Hello; the scheduler's interval.
	Interval time.Duration
	Capacity Capacity
	// Delays is how long each command kind runs before it succeeds; a missing kind runs at once.
	Delays map[fleetv1.CommandKind]time.Duration
	// Prices prices the DSPy requests the host serves.
	Prices reqstats.Prices
	Seed   uint64
}

// DefaultDelays are command run times of a small host.
var DefaultDelays = map[fleetv1.CommandKind]time.Duration{
	fleetv1.CommandKind_COMMAND_KIND_DRAIN:   500 * time.Millisecond,
	fleetv1.CommandKind_COMMAND_KIND_UNDRAIN: 0,
	fleetv1.CommandKind_COMMAND_KIND_RESTART: 2 * time.Second,
	fleetv1.CommandKind_COMMAND_KIND_CLEANUP: 300 * time.Millisecond,
	fleetv1.CommandKind_COMMAND_KIND_BACKUP:  time.Second,
	fleetv1.CommandKind_COMMAND_KIND_DEPLOY:  3 * time.Second,
	fleetv1.CommandKind_COMMAND_KIND_SCALE:   time.Second,
}

// Agent is one simulated agent: a real AgentService.Connect session over its own connection.
type Agent struct {
	cfg        AgentConfig
	instanceID string
	conn       *grpc.ClientConn
	tick       <-chan struct{}
	log        *slog.Logger
	agg        *reqstats.Aggregator
	started    time.Time

	served   atomic.Uint64 // requests served since the last report
	rateBits atomic.Uint64 // requests per second over the last report interval (float64 bits)
	picks    atomic.Uint64 // times routing picked this node
	ready    atomic.Bool   // the current session got its Welcome
	stalled  atomic.Bool   // sends nothing, keeps the connection
	sessions atomic.Uint64
	reports  atomic.Uint64
	lastAck  atomic.Int64 // when the last report acknowledgement arrived, unix nanoseconds

	mu         sync.Mutex
	rng        *rand.Rand
	raw        net.Conn // the TCP connection, for Kill
	paused     chan struct{}
	closeReq   chan struct{}
	pending    []*fleetv1.CommandUpdate
	running    map[string]bool
	finished   map[string]*fleetv1.CommandUpdate
	commandSeq uint64
	lastReport time.Time
	draining   bool
	executed   map[fleetv1.CommandKind]uint64
	wake       chan struct{}
}

// NewAgent returns an agent that will connect to addr and report when sched wakes it. It dials
// lazily: nothing happens before Run.
func NewAgent(cfg AgentConfig, addr string, sched *Scheduler, log *slog.Logger) (*Agent, error) {
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x5eed))
	a := &Agent{
		cfg:        cfg,
		instanceID: fmt.Sprintf("%016x", rng.Uint64()),
		tick:       sched.register(),
		log:        log.With("node", cfg.NodeID),
		agg:        reqstats.NewAggregator(cfg.Prices, 0.01, 5, time.Now()),
		started:    time.Now(),
		rng:        rng,
		running:    map[string]bool{},
		finished:   map[string]*fleetv1.CommandUpdate{},
		executed:   map[fleetv1.CommandKind]uint64{},
		wake:       make(chan struct{}, 1),
		closeReq:   make(chan struct{}, 1),
	}
	conn, err := grpc.NewClient(addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(a.dial),
		grpc.WithReadBufferSize(8<<10), grpc.WithWriteBufferSize(8<<10),
	)
	if err != nil {
		return nil, fmt.Errorf("agent %s: %w", cfg.NodeID, err)
	}
	a.conn = conn
	return a, nil
}

// dial opens the TCP connection and remembers it so Kill can cut it.
func (a *Agent) dial(ctx context.Context, addr string) (net.Conn, error) {
	c, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	a.raw = c
	a.mu.Unlock()
	return c, nil
}

// NodeID returns the agent's node id.
func (a *Agent) NodeID() string { return a.cfg.NodeID }

// Ready reports whether the agent's current session was welcomed.
func (a *Agent) Ready() bool { return a.ready.Load() }

// Sessions returns how many sessions the agent opened.
func (a *Agent) Sessions() uint64 { return a.sessions.Load() }

// Reports returns how many reports the agent sent.
func (a *Agent) Reports() uint64 { return a.reports.Load() }

// LastAck returns when the control plane last acknowledged a report (zero before the first).
func (a *Agent) LastAck() time.Time {
	if ns := a.lastAck.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}

// Picks returns how many times routing picked this node.
func (a *Agent) Picks() uint64 { return a.picks.Load() }

// Executed returns how many commands of each kind the agent ran to success.
func (a *Agent) Executed() map[fleetv1.CommandKind]uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make(map[fleetv1.CommandKind]uint64, len(a.executed))
	for k, v := range a.executed {
		out[k] = v
	}
	return out
}

// Kill cuts the agent's TCP connection at once (a reset, no goodbye, no stream close) and keeps
// the agent offline until Resume, as when a host dies.
func (a *Agent) Kill() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.pauseLocked()
	if a.raw != nil {
		if tc, ok := a.raw.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		_ = a.raw.Close()
	}
}

// CloseStream ends the session cleanly (the agent closes its side of the stream, without a
// goodbye) and keeps the agent offline until Resume.
func (a *Agent) CloseStream() {
	a.mu.Lock()
	a.pauseLocked()
	a.mu.Unlock()
	select {
	case a.closeReq <- struct{}{}:
	default:
	}
}

// Stall stops every message while the connection stays open, as a hung process would, until
// Resume.
func (a *Agent) Stall() { a.stalled.Store(true) }

// Resume ends a Kill, CloseStream or Stall: the agent reconnects or sends again.
func (a *Agent) Resume() {
	a.stalled.Store(false)
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.paused != nil {
		close(a.paused)
		a.paused = nil
	}
}

func (a *Agent) pauseLocked() {
	if a.paused == nil {
		a.paused = make(chan struct{})
	}
}

// Run keeps a session open until ctx ends, reconnecting with backoff, and closes the
// connection when it returns.
func (a *Agent) Run(ctx context.Context) error {
	defer a.conn.Close()
	attempt := 0
	for {
		welcomed, err := a.session(ctx)
		a.ready.Store(false)
		if ctx.Err() != nil {
			return nil
		}
		if welcomed {
			attempt = 0
		}
		a.log.Debug("session ended", "err", err)
		a.mu.Lock()
		paused := a.paused
		d := reconnect.Full(attempt, a.rng.Float64())
		a.mu.Unlock()
		if paused != nil {
			select {
			case <-ctx.Done():
				return nil
			case <-paused:
				continue
			}
		}
		attempt++
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// session runs one stream: Hello, Welcome, then reports and command updates from one sender
// goroutine while this goroutine receives. It reports whether the session was welcomed.
func (a *Agent) session(ctx context.Context) (bool, error) {
	// The stream outlives ctx by up to goodbyeTimeout, so a stopping agent can say goodbye.
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stop := context.AfterFunc(ctx, func() {
		time.AfterFunc(goodbyeTimeout, cancel)
	})
	defer stop()
	stream, err := fleetv1.NewAgentServiceClient(a.conn).Connect(sctx)
	if err != nil {
		return false, err
	}
	a.sessions.Add(1)
	if err := stream.Send(&fleetv1.ConnectRequest{Msg: &fleetv1.ConnectRequest_Hello{Hello: a.hello()}}); err != nil {
		return false, err
	}
	first, err := stream.Recv()
	if err != nil {
		return false, err
	}
	w := first.GetWelcome()
	if w == nil {
		return false, fmt.Errorf("first message is not a Welcome")
	}
	a.ready.Store(true)
	seq := w.GetLastReportSeq()
	sendErr := make(chan error, 1)
	go func() { sendErr <- a.sendLoop(ctx, sctx, stream, seq) }()
	for {
		m, err := stream.Recv()
		if err != nil {
			cancel()
			<-sendErr
			if errors.Is(err, io.EOF) {
				return true, nil
			}
			return true, err
		}
		if m.GetAck() != nil {
			a.lastAck.Store(time.Now().UnixNano())
		}
		if c := m.GetCommand(); c != nil {
			a.command(c)
		}
	}
}

// hello describes the host.
func (a *Agent) hello() *fleetv1.Hello {
	a.mu.Lock()
	defer a.mu.Unlock()
	return &fleetv1.Hello{
		NodeId: a.cfg.NodeID, Pool: a.cfg.Pool, Labels: a.cfg.Labels, Weight: a.cfg.Weight,
		HourlyPrice: a.cfg.HourlyPrice, InstanceType: a.cfg.InstanceType, AgentVersion: Version,
		Hostname: a.cfg.NodeID, InstanceId: a.instanceID, ReportInterval: durationpb.New(a.cfg.Interval),
		LastCommandSeq: a.commandSeq, Draining: a.draining, AdvertiseAddress: a.cfg.AdvertiseAddress,
	}
}

// sendLoop is the stream's only sender: a report at each scheduler wake-up, command updates as
// they come.
// When ctx ends it says goodbye and closes its side; the session ends when the control plane
// closes the stream (or sctx, the stream's context, ends).
func (a *Agent) sendLoop(ctx, sctx context.Context, stream grpc.BidiStreamingClient[fleetv1.ConnectRequest, fleetv1.ConnectResponse], seq uint64) error {
	select {
	case a.wake <- struct{}{}: // updates queued while disconnected go out first
	default:
	}
	for {
		select {
		case <-sctx.Done():
			return nil
		case <-ctx.Done():
			if err := stream.Send(&fleetv1.ConnectRequest{Msg: &fleetv1.ConnectRequest_Goodbye{Goodbye: &fleetv1.Goodbye{Reason: "simulation ended"}}}); err != nil {
				return err
			}
			return stream.CloseSend()
		case <-a.closeReq:
			return stream.CloseSend()
		case <-a.tick:
			if a.stalled.Load() {
				continue
			}
			seq++
			if err := stream.Send(&fleetv1.ConnectRequest{Msg: &fleetv1.ConnectRequest_Report{Report: a.report(seq, time.Now())}}); err != nil {
				return err
			}
			a.reports.Add(1)
		case <-a.wake:
			if a.stalled.Load() {
				continue
			}
			updates := a.takePending()
			for i, u := range updates {
				if err := stream.Send(&fleetv1.ConnectRequest{Msg: &fleetv1.ConnectRequest_CommandUpdate{CommandUpdate: u}}); err != nil {
					a.requeue(updates[i:])
					return err
				}
			}
		}
	}
}
