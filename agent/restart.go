package agent

import (
	"context"
	"fmt"
	"maps"
	"strconv"
	"time"

	"github.com/dspyfleet/dspyfleet/pkg/command"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// defaultRestartDrain bounds a restart's wait for in-flight requests when the command names no
// timeout.
const defaultRestartDrain = 30 * time.Second

// restartDrained runs a restart in-flight aware: new requests are refused (the control plane
// holds the node out of routing meanwhile), the requests in flight finish (up to the command's
// timeout), then the service restarts and must pass its health check; requests are taken again
// when the restart ends, whatever its outcome.
func (c *commander) restartDrained(ctx context.Context, cmd *fleetv1.Command, restart Action) (Outcome, error) {
	timeout := command.DrainTimeout(cmd.GetParams(), defaultRestartDrain)
	c.setRestarting(true)
	defer c.setRestarting(false)
	start := time.Now()
	left := c.waitIdle(ctx, timeout)
	waited := time.Since(start).Round(time.Millisecond)
	drained := fmt.Sprintf("drained in %s", waited)
	if left > 0 {
		drained = fmt.Sprintf("drain timed out after %s with %d requests in flight", timeout, left)
	}
	if ctx.Err() != nil {
		return Outcome{}, fmt.Errorf("the agent stopped while draining for the restart (%s); the service was not restarted", drained)
	}
	out, err := restart.Run(ctx, cmd)
	if err != nil {
		return out, fmt.Errorf("%s, then %w", drained, err)
	}
	out.Detail = drained + ", then " + out.Detail
	out.Fields = maps.Clone(out.Fields)
	if out.Fields == nil {
		out.Fields = map[string]string{}
	}
	out.Fields["drain_wait"] = waited.String()
	out.Fields["drain_in_flight"] = strconv.Itoa(left)
	return out, nil
}

// waitIdle waits until nothing is in flight, timeout passes or ctx ends, and returns what is
// still in flight.
func (c *commander) waitIdle(ctx context.Context, timeout time.Duration) int {
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	t := time.NewTicker(drainPoll)
	defer t.Stop()
	for {
		n := c.requests.InFlight()
		if n == 0 {
			return 0
		}
		select {
		case <-t.C:
		case <-wctx.Done():
			return n
		}
	}
}

// setRestarting marks a restart's drain as in force, or over.
func (c *commander) setRestarting(v bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.restarting = v
}

// isRestarting reports whether a restart's drain is in force.
func (c *commander) isRestarting() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.restarting
}
