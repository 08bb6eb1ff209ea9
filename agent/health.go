package agent

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/dspyfleet/dspyfleet/agent/service"
	"github.com/dspyfleet/dspyfleet/pkg/command"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// unhealthyAfter is how many checks in a row must fail before the service is reported
// unhealthy, so one slow probe does not take the node out of routing; one passing check
// brings it back.
const unhealthyAfter = 3

// maxHealthDetail bounds the verdict's detail, which lists every failing instance.
const maxHealthDetail = 512

// serviceHealth checks the supervised service once per interval: every instance must be running
// and pass the configured health check (when there is one).
type serviceHealth struct {
	mgr   service.Manager
	check service.HealthCheck
	// anyServes: the proxy spreads requests over the instances that pass, so the service is
	// healthy while one of them does; otherwise every instance must.
	anyServes bool
	fails     int                                   // failed checks in a row; run's goroutine only
	passed    bool                                  // a check has passed since the agent started; run's goroutine only
	last      atomic.Pointer[fleetv1.ServiceHealth] // starting until the first check
	ports     atomic.Pointer[[]int]                 // the ports that passed the last check; nil until it
	again     chan struct{}                         // asks run for a check now
}

// newServiceHealth returns the checker of mgr's service, or nil without one.
func newServiceHealth(mgr service.Manager, cfg ActionsConfig) *serviceHealth {
	if mgr == nil {
		return nil
	}
	h := &serviceHealth{mgr: mgr, again: make(chan struct{}, 1)}
	if s := cfg.Service; s != nil {
		h.check = s.Health.check()
	}
	// Until the first check has run, the service is not known to serve: a node reported ready
	// then would be routed requests its service is not listening for yet.
	h.last.Store(&fleetv1.ServiceHealth{Detail: "starting: the first health check has not finished"})
	return h
}

// run checks every interval until ctx ends.
func (h *serviceHealth) run(ctx context.Context, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		h.checkOnce(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-h.again:
		}
	}
}

// recheck asks for a check now, so instances a restart or a scale started take requests as
// soon as they pass it rather than at the next interval.
func (h *serviceHealth) recheck() {
	select {
	case h.again <- struct{}{}:
	default:
	}
}

// recheckAfter makes the restart and scale actions in acts ask for a check as they end.
func (h *serviceHealth) recheckAfter(acts map[command.Kind]Action) {
	if h == nil {
		return
	}
	for _, kind := range []command.Kind{command.Restart, command.Scale} {
		if act := acts[kind]; act != nil {
			acts[kind] = ActionFunc(func(ctx context.Context, cmd *fleetv1.Command) (Outcome, error) {
				defer h.recheck()
				return act.Run(ctx, cmd)
			})
		}
	}
}

// checkOnce checks every instance and records the verdict.
func (h *serviceHealth) checkOnce(ctx context.Context) {
	insts := h.mgr.Status()
	var problems []string
	var ports []int
	for _, in := range insts {
		if !instanceUp(in.State) {
			p := fmt.Sprintf("instance %d is %s", in.Index, in.State)
			if in.LastExit != "" {
				p += fmt.Sprintf(" (last exit: %s, %d restarts)", in.LastExit, in.Restarts)
			}
			problems = append(problems, p)
			continue
		}
		if h.check.Configured() {
			if err := h.check.Probe(ctx, in.Port); err != nil {
				problems = append(problems, fmt.Sprintf("instance %d fails its health check: %v", in.Index, err))
				continue
			}
		}
		ports = append(ports, in.Port)
	}
	if len(insts) == 0 {
		problems = append(problems, "no instance of the service is running")
	}
	if ctx.Err() != nil {
		return // a probe cut short by the agent stopping says nothing about the service
	}
	h.ports.Store(&ports)
	v := &fleetv1.ServiceHealth{Healthy: true, Detail: "healthy", Instances: uint32(len(insts)), HealthyInstances: uint32(len(ports))}
	if len(problems) == 0 || h.anyServes && len(ports) > 0 {
		h.fails, h.passed = 0, true
		if len(problems) > 0 {
			v.Detail = fmt.Sprintf("healthy: %d of %d instances serve (%s)", len(ports), len(insts), clip(strings.Join(problems, "; ")))
		}
	} else {
		h.fails++
		detail := clip(strings.Join(problems, "; "))
		v.Detail = detail
		switch {
		case !h.passed:
			// Not one check has passed yet: the service is starting, not flapping.
			v.Healthy, v.Detail = false, "starting: "+detail
		case h.fails >= unhealthyAfter:
			v.Healthy = false
		default:
			v.Detail = fmt.Sprintf("healthy (check %d of %d failing: %s)", h.fails, unhealthyAfter, detail)
		}
	}
	h.last.Store(v)
}

// clip bounds a verdict's detail.
func clip(detail string) string {
	if len(detail) > maxHealthDetail {
		return detail[:maxHealthDetail] + "…"
	}
	return detail
}

// instanceUp reports whether an instance's state means its process runs: the process manager's
// "running" or systemd's "active (…)".
func instanceUp(state string) bool {
	return state == service.StateRunning || strings.HasPrefix(state, "active")
}

// verdict returns the latest verdict, or nil before the first check.
func (h *serviceHealth) verdict() *fleetv1.ServiceHealth {
	if h == nil {
		return nil
	}
	return h.last.Load()
}
