package agent

import (
	"context"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dspyfleet/dspyfleet/agent/preempt"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// capacityProbeTimeout bounds the start-up read of the capacity type from the metadata service.
const capacityProbeTimeout = 5 * time.Second

// Interrupt records that the host is being reclaimed: the agent refuses new requests from now on
// (as during a drain), tells the control plane at once, and again on every later session, so it
// drains the node and starts a replacement. Only the first notice counts.
func (a *Agent) Interrupt(n preempt.Notice) {
	if !a.notice.CompareAndSwap(nil, &n) {
		return
	}
	a.log.Warn("interruption notice: the host is being reclaimed; refusing new requests", "source", n.Source,
		"deadline", n.Deadline.Format(time.RFC3339), "in", time.Until(n.Deadline).Round(time.Second), "detail", n.Detail)
	select {
	case a.noticed <- struct{}{}:
	default:
	}
}

// Interruption returns the notice in force, false when there is none.
func (a *Agent) Interruption() (preempt.Notice, bool) {
	if n := a.notice.Load(); n != nil {
		return *n, true
	}
	return preempt.Notice{}, false
}

// capacityType is the capacity type the Hello reports: the configured one, else the one read
// from the metadata service.
func (a *Agent) capacityType() string {
	if a.cfg.CapacityType != "" {
		return a.cfg.CapacityType
	}
	if c, ok := a.detected.Load().(string); ok {
		return c
	}
	return ""
}

// probeCapacity reads the capacity type from the metadata service when none is configured.
func (a *Agent) probeCapacity(ctx context.Context) {
	if a.watcher == nil || a.cfg.CapacityType != "" {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, capacityProbeTimeout)
	defer cancel()
	c, err := a.watcher.CapacityType(ctx)
	if err != nil {
		a.log.Warn("reading the capacity type from the metadata service failed; set --capacity-type", "cloud", a.watcher.Cloud(), "err", err)
		return
	}
	a.detected.Store(c)
}

// interruptionMsg is the notice as the stream carries it, nil when there is none.
func (a *Agent) interruptionMsg() *fleetv1.ConnectRequest {
	n := a.notice.Load()
	if n == nil {
		return nil
	}
	return &fleetv1.ConnectRequest{Msg: &fleetv1.ConnectRequest_Interruption{Interruption: &fleetv1.InterruptionNotice{
		Source: n.Source, Deadline: timestamppb.New(n.Deadline), Detail: n.Detail, Time: timestamppb.New(n.Seen),
	}}}
}

// Terminate handles the host's shutdown signal: with notice > 0 it reports an interruption due
// notice from now and waits until nothing is in flight, the notice ends or ctx ends; with 0 it
// returns at once. The caller then stops the agent.
func (a *Agent) Terminate(ctx context.Context, notice time.Duration) {
	if notice <= 0 {
		return
	}
	now := time.Now()
	a.Interrupt(preempt.Notice{Source: preempt.SourceSIGTERM, Deadline: now.Add(notice), Detail: "SIGTERM", Seen: now})
	deadline := time.NewTimer(notice)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	// Also wait for the notice to reach a connected control plane, so it drains the node rather
	// than merely seeing it disconnect.
	for a.requests.InFlight() > 0 || (a.connected.Load() && !a.noticeSent.Load()) {
		select {
		case <-ctx.Done():
			return
		case <-deadline.C:
			a.log.Warn("requests still in flight at the end of the SIGTERM notice; stopping", "in_flight", a.requests.InFlight())
			return
		case <-tick.C:
		}
	}
}
