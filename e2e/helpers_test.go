package e2e

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/dspyfleet/dspyfleet/agent"
	"github.com/dspyfleet/dspyfleet/internal/fleettest"
)

// testInterval is the agents' report interval in these tests: TTL is 3 × it.
const testInterval = 100 * time.Millisecond

// runningAgent is an agent running until stopped or the test ends.
type runningAgent struct {
	*agent.Agent
	cancel context.CancelFunc
	done   chan error
}

// startAgent runs a real agent reporting to server as node id.
func startAgent(t *testing.T, server, id string) *runningAgent {
	t.Helper()
	return startAgentWith(t, server, id, func(*agent.Config) {})
}

// startAgentWith runs a real agent after mutate adjusted its configuration.
func startAgentWith(t *testing.T, server, id string, mutate func(*agent.Config)) *runningAgent {
	t.Helper()
	cfg := agent.DefaultConfig()
	cfg.Server = server
	cfg.NodeID = id
	cfg.Pool = "web"
	cfg.Labels = map[string]string{"zone": "a"}
	cfg.Interval = testInterval
	cfg.StateDir = t.TempDir()
	cfg.BackoffInitial = 20 * time.Millisecond
	cfg.BackoffMax = 200 * time.Millisecond
	cfg.Logger = fleettest.Logger(t).With("agent", id)
	mutate(&cfg)
	a, err := agent.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ra := &runningAgent{Agent: a, cancel: cancel, done: make(chan error, 1)}
	go func() { ra.done <- a.Run(ctx) }()
	t.Cleanup(func() { ra.stop(t) })
	return ra
}

// stop ends the agent (as SIGTERM does) and waits for it; safe to call twice.
func (ra *runningAgent) stop(t *testing.T) {
	t.Helper()
	ra.cancel()
	if err, ok := <-ra.done; ok {
		close(ra.done)
		if err != nil {
			t.Errorf("agent Run: %v", err)
		}
	}
}

// watchUntil opens a server stream with watch and req and receives from it until done accepts a
// message, which it returns. The test fails, naming what it waited for and the last message,
// when the stream ends first or within passes.
func watchUntil[Req, Resp any](t *testing.T, within time.Duration, what string,
	watch func(context.Context, *Req, ...grpc.CallOption) (grpc.ServerStreamingClient[Resp], error), req *Req,
	done func(*Resp) bool) *Resp {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	stream, err := watch(ctx, req)
	if err != nil {
		t.Fatalf("watch for %s: %v", what, err)
	}
	var last *Resp
	for {
		m, err := stream.Recv()
		if err != nil {
			if ctx.Err() != nil {
				t.Fatalf("timed out after %s waiting for %s; last: %v", within, what, last)
			}
			t.Fatalf("the watch ended (%v) before %s; last: %v", err, what, last)
		}
		if done(m) {
			return m
		}
		last = m
	}
}
