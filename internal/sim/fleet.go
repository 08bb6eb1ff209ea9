package sim

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"time"

	"golang.org/x/sync/errgroup"

	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// FleetConfig describes a fleet of identical simulated hosts.
type FleetConfig struct {
	// Addr is the control plane's gRPC address.
	Addr   string
	Agents int
	Pool   string
	// Interval is every agent's report interval.
	Interval     time.Duration
	Capacity     Capacity
	HourlyPrice  float64
	InstanceType string
	// Delays overrides DefaultDelays when not nil.
	Delays map[fleetv1.CommandKind]time.Duration
	Seed   uint64
	Log    *slog.Logger
}

// Fleet is a set of simulated agents sharing one scheduler.
type Fleet struct {
	sched  *Scheduler
	agents []*Agent
	byID   map[string]*Agent
}

// NodeID is the node id of the fleet's i-th agent.
func NodeID(i int) string { return fmt.Sprintf("sim-%05d", i) }

// NewFleet builds the agents; nothing connects before Run.
func NewFleet(cfg FleetConfig) (*Fleet, error) {
	if cfg.Agents < 1 {
		return nil, fmt.Errorf("agents: %d, want at least 1", cfg.Agents)
	}
	if cfg.Interval <= 0 {
		return nil, fmt.Errorf("interval: %s, want a positive duration", cfg.Interval)
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	delays := maps.Clone(DefaultDelays)
	if cfg.Delays != nil {
		delays = maps.Clone(cfg.Delays)
	}
	f := &Fleet{sched: NewScheduler(cfg.Interval), byID: make(map[string]*Agent, cfg.Agents)}
	for i := range cfg.Agents {
		a, err := NewAgent(AgentConfig{
			NodeID: NodeID(i), Pool: cfg.Pool, Labels: map[string]string{"sim": "true"}, Weight: 1,
			HourlyPrice: cfg.HourlyPrice, InstanceType: cfg.InstanceType,
			AdvertiseAddress: fmt.Sprintf("10.%d.%d.%d:8000", (i>>16)&255, (i>>8)&255, i&255),
			Interval:         cfg.Interval, Capacity: cfg.Capacity, Delays: delays, Prices: DefaultPrices,
			Seed: cfg.Seed*1_000_003 + uint64(i),
		}, cfg.Addr, f.sched, cfg.Log)
		if err != nil {
			return nil, err
		}
		f.agents = append(f.agents, a)
		f.byID[a.NodeID()] = a
	}
	return f, nil
}

// Agents returns the agents in node id order.
func (f *Fleet) Agents() []*Agent { return f.agents }

// Agent returns the agent of a node id, or nil.
func (f *Fleet) Agent(id string) *Agent { return f.byID[id] }

// Ready returns how many agents have a welcomed session.
func (f *Fleet) Ready() int {
	n := 0
	for _, a := range f.agents {
		if a.Ready() {
			n++
		}
	}
	return n
}

// Stale returns how many agents had no report acknowledged within maxAge before now: their
// latest stored report is older than maxAge (or none was stored).
func (f *Fleet) Stale(now time.Time, maxAge time.Duration) int {
	n := 0
	for _, a := range f.agents {
		if now.Sub(a.LastAck()) > maxAge {
			n++
		}
	}
	return n
}

// Run connects every agent and keeps them running until ctx ends. Agents start spread over one
// interval, so a large fleet does not connect all at once.
func (f *Fleet) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return f.sched.Run(ctx) })
	step := f.sched.interval / time.Duration(len(f.agents))
	for i, a := range f.agents {
		if i > 0 && step > 0 {
			t := time.NewTimer(step)
			select {
			case <-ctx.Done():
				t.Stop()
			case <-t.C:
			}
		}
		g.Go(func() error { return a.Run(ctx) })
	}
	return g.Wait()
}
