package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dspyfleet/dspyfleet/internal/tracing"
	"github.com/dspyfleet/dspyfleet/internal/wire"
	"github.com/dspyfleet/dspyfleet/pkg/command"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// Action carries out one kind of command with what is configured on this host. The command
// names the action and carries typed parameters only; an action never runs a command line that
// came from the control plane.
type Action interface {
	Run(ctx context.Context, cmd *fleetv1.Command) (Outcome, error)
}

// Outcome is what an action reports when it ends.
type Outcome struct {
	Detail string
	Fields map[string]string
}

// ActionFunc adapts a function to Action.
type ActionFunc func(ctx context.Context, cmd *fleetv1.Command) (Outcome, error)

// Run implements Action.
func (f ActionFunc) Run(ctx context.Context, cmd *fleetv1.Command) (Outcome, error) {
	return f(ctx, cmd)
}

// drainPoll is how often a drain looks at the in-flight count.
const drainPoll = 50 * time.Millisecond

// commander accepts commands from the control plane, runs them one at a time, records every
// state in the state store before reporting it, and answers a repeated command from the store.
type commander struct {
	tracer   trace.Tracer
	log      *slog.Logger
	state    *stateStore
	requests *Requests
	queue    chan *fleetv1.Command
	updates  chan *fleetv1.CommandUpdate

	mu          sync.Mutex
	actions     map[command.Kind]Action // replaced in part by a reload
	accepted    map[string]bool         // accepted by this process and not finished
	draining    bool
	restarting  bool // a restart's drain: new requests refused until it ends
	cancelDrain context.CancelFunc
}

func newCommander(log *slog.Logger, st *stateStore, actions map[command.Kind]Action, requests *Requests) *commander {
	c := &commander{
		log: log, state: st, actions: maps.Clone(actions), requests: requests,
		tracer:   noop.NewTracerProvider().Tracer(tracerName),
		queue:    make(chan *fleetv1.Command, 256),
		updates:  make(chan *fleetv1.CommandUpdate, 256),
		accepted: make(map[string]bool),
	}
	if c.actions == nil {
		c.actions = map[command.Kind]Action{}
	}
	c.actions[command.Drain] = ActionFunc(c.drain)
	c.actions[command.Undrain] = ActionFunc(c.undrain)
	c.draining = st.draining()
	return c
}

// isDraining reports whether an operator's drain is in force on this host.
func (c *commander) isDraining() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.draining
}

// report records u, then offers it to the current session. When no session is there the update
// waits in the store: the control plane sends unfinished commands again on reconnect and gets
// the recorded state back.
func (c *commander) report(u *fleetv1.CommandUpdate) error {
	u.Time = timestamppb.Now()
	if err := c.state.record(u); err != nil {
		return fmt.Errorf("record command %s: %w", u.GetId(), err)
	}
	select {
	case c.updates <- u:
	default:
	}
	return nil
}

// offer hands a command from the control plane to the commander. A command seen before is
// answered with its recorded state; a new one is checked, recorded as accepted and queued. A
// command an earlier agent process accepted but never started is queued now.
func (c *commander) offer(cmd *fleetv1.Command) error {
	if err := command.ValidID(cmd.GetId()); err != nil {
		c.refuseMalformed(cmd, "id "+err.Error())
		return nil
	}
	prev, err := c.state.lookup(cmd.GetId())
	if err != nil {
		return err
	}
	c.mu.Lock()
	mine := c.accepted[cmd.GetId()]
	c.mu.Unlock()
	resumed := prev != nil && prev.GetState() == fleetv1.CommandState_COMMAND_STATE_ACCEPTED && !mine
	if prev != nil && !resumed {
		select {
		case c.updates <- prev:
		default:
		}
		return nil
	}
	u := &fleetv1.CommandUpdate{Id: cmd.GetId()}
	kind := wire.CommandKind(cmd.GetKind())
	invalid := command.Validate(kind, cmd.GetParams())
	switch {
	case cmd.GetDeadline() != nil && time.Now().After(cmd.GetDeadline().AsTime()):
		u.State, u.Detail = fleetv1.CommandState_COMMAND_STATE_EXPIRED, "deadline passed before the agent could start it"
	case invalid != nil:
		u.State, u.Detail = fleetv1.CommandState_COMMAND_STATE_FAILED, "refused: "+invalid.Error()
	case c.action(kind) == nil:
		u.State, u.Detail = fleetv1.CommandState_COMMAND_STATE_FAILED, fmt.Sprintf("no %s action is configured on this agent; add it under actions in the agent config", kind)
	default:
		u.State, u.Detail = fleetv1.CommandState_COMMAND_STATE_ACCEPTED, "accepted"
		if resumed {
			u.Detail = "accepted before the agent restarted; starting it now"
		}
	}
	if err := c.report(u); err != nil {
		return err
	}
	if u.State != fleetv1.CommandState_COMMAND_STATE_ACCEPTED {
		return nil
	}
	if kind == command.Undrain {
		c.stopDrainWait()
	}
	if err := c.state.noteSeq(cmd.GetSeq()); err != nil {
		return err
	}
	c.mu.Lock()
	c.accepted[cmd.GetId()] = true
	c.mu.Unlock()
	select {
	case c.queue <- cmd:
		return nil
	default:
		return c.report(&fleetv1.CommandUpdate{Id: cmd.GetId(), State: fleetv1.CommandState_COMMAND_STATE_FAILED,
			Detail: "refused: more than 256 commands waiting on this agent"})
	}
}

// refuseMalformed reports a command the agent cannot even key (its id is malformed) as failed,
// without recording it: the state store keys commands by id. The session goes on; a command
// the control plane sends again is refused again.
func (c *commander) refuseMalformed(cmd *fleetv1.Command, why string) {
	c.log.Error("malformed command from the control plane refused and reported failed", "command", cmd.GetId(), "kind", cmd.GetKind(), "reason", why)
	u := &fleetv1.CommandUpdate{Id: cmd.GetId(), State: fleetv1.CommandState_COMMAND_STATE_FAILED,
		Detail: "refused: malformed command: " + why, Time: timestamppb.Now()}
	select {
	case c.updates <- u:
	default:
	}
}

// run executes queued commands one at a time until ctx ends.
func (c *commander) run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case cmd := <-c.queue:
			c.exec(ctx, cmd)
			c.mu.Lock()
			delete(c.accepted, cmd.GetId())
			c.mu.Unlock()
		}
	}
}

// exec runs one accepted command and records its outcome, in a command.execute span that joins
// the trace the command's traceparent names.
func (c *commander) exec(ctx context.Context, cmd *fleetv1.Command) {
	ctx, span := c.tracer.Start(tracing.Extract(ctx, cmd.GetTraceparent()), "command.execute", trace.WithAttributes(
		attribute.String("dspyfleet.command.id", cmd.GetId()), attribute.String("dspyfleet.command.kind", string(wire.CommandKind(cmd.GetKind())))))
	defer span.End()
	if err := c.report(&fleetv1.CommandUpdate{Id: cmd.GetId(), State: fleetv1.CommandState_COMMAND_STATE_RUNNING, Detail: "running"}); err != nil {
		span.SetStatus(codes.Error, err.Error())
		return
	}
	kind := wire.CommandKind(cmd.GetKind())
	var out Outcome
	var err error
	if act := c.action(kind); kind == command.Restart {
		out, err = c.restartDrained(ctx, cmd, act)
	} else {
		out, err = act.Run(withRunRecord(ctx, c.state.runRecord(cmd.GetId())), cmd)
	}
	u := &fleetv1.CommandUpdate{Id: cmd.GetId(), State: fleetv1.CommandState_COMMAND_STATE_SUCCEEDED, Detail: out.Detail, Fields: out.Fields}
	if err != nil {
		u.State, u.Detail = fleetv1.CommandState_COMMAND_STATE_FAILED, err.Error()
		span.SetStatus(codes.Error, err.Error())
	}
	span.SetAttributes(attribute.String("dspyfleet.command.state", u.State.String()))
	if c.report(u) == nil {
		c.state.dropRunRecord(cmd.GetId())
	}
}

// runRecordKey carries, in an action's context, the file its hook writes its exit status to.
type runRecordKey struct{}

// withRunRecord returns ctx carrying the run record path for the action's hook.
func withRunRecord(ctx context.Context, path string) context.Context {
	return context.WithValue(ctx, runRecordKey{}, path)
}

// runRecordFrom returns the run record path in ctx, or "" for none.
func runRecordFrom(ctx context.Context) string {
	path, _ := ctx.Value(runRecordKey{}).(string)
	return path
}

// recoverRunning reports the real outcome of every command a previous agent process was
// running when it stopped: a hook that ended before then left its exit status in its run
// record, and that is the outcome; otherwise the hook was killed with its process group, and
// the command failed because the agent restarted. It is never run again.
func (c *commander) recoverRunning() error {
	left, err := c.state.unfinished()
	if err != nil {
		return err
	}
	for _, u := range left {
		if u.GetState() != fleetv1.CommandState_COMMAND_STATE_RUNNING {
			continue
		}
		out := &fleetv1.CommandUpdate{Id: u.GetId(), State: fleetv1.CommandState_COMMAND_STATE_FAILED,
			Detail: "agent restarted: the agent stopped while this command was running and its hook was killed with its process group; it was not run again"}
		if code, ok := c.state.readRunRecord(u.GetId()); ok {
			out.Fields = map[string]string{"exit_status": "exit status " + strconv.Itoa(code)}
			out.Detail = fmt.Sprintf("agent restarted: the hook ended with exit status %d while the agent was down; it was not run again", code)
			if code == 0 {
				out.State = fleetv1.CommandState_COMMAND_STATE_SUCCEEDED
			}
		}
		if err := c.report(out); err != nil {
			return err
		}
		c.state.dropRunRecord(u.GetId())
	}
	return nil
}

// drain takes the host out of service: the request intake refuses new requests, and the
// command ends when nothing is in flight or the drain timeout passes.
func (c *commander) drain(ctx context.Context, cmd *fleetv1.Command) (Outcome, error) {
	if err := c.state.setDraining(true); err != nil {
		return Outcome{}, err
	}
	timeout := command.DrainTimeout(cmd.GetParams(), 5*time.Minute)
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c.mu.Lock()
	c.draining = true
	c.cancelDrain = cancel
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.cancelDrain = nil
		c.mu.Unlock()
	}()
	start := time.Now()
	t := time.NewTicker(drainPoll)
	defer t.Stop()
	for {
		n := c.requests.InFlight()
		if n == 0 {
			return Outcome{
				Detail: fmt.Sprintf("drained: nothing in flight after %s", time.Since(start).Round(time.Millisecond)),
				Fields: map[string]string{"in_flight": "0", "timed_out": "false"},
			}, nil
		}
		select {
		case <-t.C:
		case <-wctx.Done():
			switch {
			case ctx.Err() != nil:
				return Outcome{}, errors.New("the agent stopped while draining; the drain stays in force")
			case !c.isDraining():
				return Outcome{}, errors.New("undrained before the drain finished")
			}
			return Outcome{
				Detail: fmt.Sprintf("drained at the %s timeout with %d requests still in flight", timeout, n),
				Fields: map[string]string{"in_flight": fmt.Sprint(n), "timed_out": "true"},
			}, nil
		}
	}
}

// stopDrainWait ends a drain's wait because an undrain arrived.
func (c *commander) stopDrainWait() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.draining = false
	if c.cancelDrain != nil {
		c.cancelDrain()
	}
}

// undrain returns the host to service.
func (c *commander) undrain(context.Context, *fleetv1.Command) (Outcome, error) {
	if err := c.state.setDraining(false); err != nil {
		return Outcome{}, err
	}
	c.mu.Lock()
	c.draining = false
	c.mu.Unlock()
	return Outcome{Detail: "taking requests again"}, nil
}
