package service

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
)

// ProcessManager is the Manager in which the agent supervises the service's processes itself.
// Run starts the configured instances, restarts any that exit unexpectedly (with backoff),
// records exit statuses and output tails, and stops every process group when its ctx ends.
// Restart and Scale run one at a time and only while Run supervises.
type ProcessManager struct {
	cfg ProcessConfig
	log *slog.Logger
	ops chan struct{} // holds a token while a Restart or Scale runs

	mu      sync.Mutex
	ran     bool            // Run was called
	running bool            // Run supervises; supervisors may be added to group
	runCtx  context.Context // Run's ctx, for supervisors added by Scale
	group   *errgroup.Group // owns every supervisor
	insts   []*instance     // ordered by index
	changes atomic.Uint64   // counts changes to insts and their states
}

var _ Manager = (*ProcessManager)(nil)

// instance is one supervised instance. Its supervisor goroutine owns its process.
type instance struct {
	index int
	port  int
	out   *tail
	ctl   chan request  // Restart and Scale ask the supervisor through ctl
	gone  chan struct{} // closed when the supervisor returns
	// Guarded by ProcessManager.mu.
	status  Instance
	started bool // a process was started once, so later starts are restarts
}

// request asks a supervisor to restart its instance or to stop it for good.
type request struct {
	stop  bool
	reply chan reply // buffered: the supervisor never waits for the asker
}

type reply struct {
	oldPID int    // 0 when no process ran
	exit   string // how the old process ended
	newPID int
	err    error // the new process did not start
}

// NewProcessManager checks cfg and returns a ProcessManager. It starts nothing; Run does.
// A nil log means slog.Default().
func NewProcessManager(cfg ProcessConfig, log *slog.Logger) (*ProcessManager, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	m := &ProcessManager{cfg: cfg.withDefaults(), log: log, ops: make(chan struct{}, 1)}
	for i := range m.cfg.Instances {
		m.insts = append(m.insts, m.newInstance(i))
	}
	return m, nil
}

func (m *ProcessManager) newInstance(i int) *instance {
	port := m.cfg.BasePort + i
	return &instance{
		index:  i,
		port:   port,
		out:    newTail(m.cfg.OutputTail),
		ctl:    make(chan request),
		gone:   make(chan struct{}),
		status: Instance{Index: i, Port: port, State: StateStopped},
	}
}

// Run starts the configured instances and supervises them until ctx ends, then stops every
// process and returns nil once all of them are gone. Run may be called once.
func (m *ProcessManager) Run(ctx context.Context) error {
	m.mu.Lock()
	if m.ran {
		m.mu.Unlock()
		return errors.New("service: ProcessManager.Run called twice")
	}
	g := new(errgroup.Group)
	m.ran, m.running, m.runCtx, m.group = true, true, ctx, g
	m.reapOrphans()
	// This member keeps the group busy until no supervisor can be added any more.
	g.Go(func() error {
		<-ctx.Done()
		m.mu.Lock()
		m.running = false
		m.mu.Unlock()
		return nil
	})
	for _, inst := range m.insts {
		m.superviseLocked(inst)
	}
	m.mu.Unlock()
	m.log.Info("supervising service", "command", m.cfg.Command[0], "instances", m.cfg.Instances, "base_port", m.cfg.BasePort)
	err := g.Wait()
	m.log.Info("service stopped")
	return err
}

// superviseLocked starts inst's supervisor in Run's group; the caller holds m.mu and has seen
// m.running.
func (m *ProcessManager) superviseLocked(inst *instance) {
	ctx := m.runCtx
	m.group.Go(func() error {
		m.supervise(ctx, inst)
		return nil
	})
}

// supervise owns inst's process: it starts it, restarts it after a crash, serves requests,
// and stops it when ctx ends.
func (m *ProcessManager) supervise(ctx context.Context, inst *instance) {
	defer close(inst.gone)
	var (
		p       *process // nil while waiting to (re)start
		crashes int      // crashes in a row, for the backoff
		retry   = time.NewTimer(0)
	)
	defer retry.Stop()
	for {
		var exited chan struct{}
		if p != nil {
			exited = p.done
		}
		select {
		case <-ctx.Done():
			m.stopProcess(inst, p, StateStopped)
			return

		case <-retry.C:
			var err error
			if p, err = m.launch(inst); err != nil {
				d := restartDelay(m.cfg.RestartBackoff, crashes)
				crashes++
				m.log.Warn("service instance did not start", "instance", inst.index, "err", err, "retry_in", d)
				retry.Reset(d)
			}

		case <-exited:
			if time.Since(p.started) >= max(m.cfg.RestartBackoff, maxRestartBackoff) {
				crashes = 0
			}
			d := restartDelay(m.cfg.RestartBackoff, crashes)
			crashes++
			m.mu.Lock()
			inst.status.State, inst.status.PID, inst.status.LastExit = StateExited, 0, p.status
			m.changes.Add(1)
			m.mu.Unlock()
			m.forgetPID(inst.index)
			m.log.Warn("service instance exited", "instance", inst.index, "pid", p.pid, "status", p.status, "restart_in", d)
			p = nil
			retry.Reset(d)

		case req := <-inst.ctl:
			retry.Stop()
			state := StateRestarting
			if req.stop {
				state = StateStopped
			}
			var r reply
			if p != nil {
				r.oldPID = p.pid
			}
			r.exit, p = m.stopProcess(inst, p, state), nil
			if req.stop {
				req.reply <- r
				return
			}
			crashes = 0
			if p, r.err = m.launch(inst); r.err != nil {
				retry.Reset(restartDelay(m.cfg.RestartBackoff, crashes))
				crashes++
			} else {
				r.newPID = p.pid
			}
			req.reply <- r
		}
	}
}

// launch starts a process for inst and records it.
func (m *ProcessManager) launch(inst *instance) (*process, error) {
	argv := make([]string, len(m.cfg.Command))
	for i, a := range m.cfg.Command {
		argv[i] = expandPort(a, inst.port)
	}
	env := slices.Concat(os.Environ(), m.cfg.Env, []string{
		"PORT=" + strconv.Itoa(inst.port),
		"DSPYFLEET_INSTANCE=" + strconv.Itoa(inst.index),
	})
	// The guard ends the instance with the agent, however the agent ends, so a restarted agent
	// finds its ports free; the pid file covers a guard that was killed too.
	p, err := startProcess(procSpec{argv: argv, dir: m.cfg.Dir, env: env, out: inst.out, reapGroup: true, dieWithAgent: true})
	if err == nil {
		m.recordPID(inst.index, p)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err != nil {
		inst.status.State, inst.status.PID, inst.status.LastExit = StateExited, 0, "start failed: "+err.Error()
		m.changes.Add(1)
		return nil, fmt.Errorf("start %s: %w", argv[0], err)
	}
	if inst.started {
		inst.status.Restarts++
	}
	inst.started = true
	inst.status.State, inst.status.PID, inst.status.StartedAt = StateRunning, p.pid, p.started
	m.changes.Add(1)
	m.log.Info("service instance started", "instance", inst.index, "pid", p.pid, "port", inst.port)
	return p, nil
}

// stopProcess marks inst as state and stops p (if any) with the grace period, returning how p
// ended.
func (m *ProcessManager) stopProcess(inst *instance, p *process, state string) string {
	m.mu.Lock()
	inst.status.State = state
	m.changes.Add(1)
	m.mu.Unlock()
	if p == nil {
		return ""
	}
	p.stop(m.cfg.StopGrace)
	m.forgetPID(inst.index)
	m.mu.Lock()
	inst.status.PID, inst.status.LastExit = 0, p.status
	m.mu.Unlock()
	m.log.Info("service instance stopped", "instance", inst.index, "pid", p.pid, "status", p.status)
	return p.status
}

// Restart restarts the instances one at a time, stopping each with the grace period, starting
// it again and waiting for its health check before the next, so the others keep serving. A
// failed health check ends the restart with an error naming the probe, what it saw and the
// instance's output tail. The Result lists old and new PIDs and how the old processes ended;
// on error it covers the instances handled so far.
func (m *ProcessManager) Restart(ctx context.Context) (Result, error) {
	release, err := m.begin(ctx)
	if err != nil {
		return Result{}, err
	}
	defer release()
	m.mu.Lock()
	insts := slices.Clone(m.insts)
	m.mu.Unlock()

	var lines, oldPIDs, newPIDs, exits []string
	result := func() Result {
		detail := "no instances to restart"
		if len(lines) > 0 {
			detail = fmt.Sprintf("restarted %d of %d instances: %s", len(lines), len(insts), strings.Join(lines, ", "))
		}
		return Result{Detail: detail, Fields: map[string]string{
			"old_pids":    strings.Join(oldPIDs, ","),
			"new_pids":    strings.Join(newPIDs, ","),
			"exit_status": strings.Join(exits, ","),
		}}
	}
	for _, inst := range insts {
		r, err := m.call(ctx, inst)
		if err != nil && r.oldPID != 0 {
			return result(), fmt.Errorf("restart instance %d: stopped pid %d (%s), then %w", inst.index, r.oldPID, r.exit, err)
		}
		if err != nil {
			return result(), fmt.Errorf("restart instance %d: %w", inst.index, err)
		}
		herr := m.cfg.Health.Wait(ctx, inst.port)
		newPID := m.pid(inst) // the health wait may have outlived a crashed r.newPID
		lines = append(lines, fmt.Sprintf("pid %s→%d (port %d)", pidText(r.oldPID), newPID, inst.port))
		oldPIDs, newPIDs = append(oldPIDs, pidText(r.oldPID)), append(newPIDs, pidText(newPID))
		exits = append(exits, cmp.Or(r.exit, "-"))
		if herr != nil {
			return result(), m.unhealthy("restart", inst, herr)
		}
	}
	return result(), nil
}

// Scale starts instances up to n or stops the highest-numbered ones down to n, then waits for
// the health checks of the started ones. Scale(0) stops everything; a negative n or one above
// MaxInstances is refused with ErrInvalidScale. Instances that fail their health check keep
// running (and restarting); the error says which and why.
func (m *ProcessManager) Scale(ctx context.Context, n int) (Result, error) {
	if n < 0 {
		return Result{}, fmt.Errorf("%w: %d must not be negative", ErrInvalidScale, n)
	}
	if n > m.cfg.MaxInstances {
		return Result{}, fmt.Errorf("%w: %d is more than max_instances %d", ErrInvalidScale, n, m.cfg.MaxInstances)
	}
	release, err := m.begin(ctx)
	if err != nil {
		return Result{}, err
	}
	defer release()

	m.mu.Lock()
	if !m.running {
		m.mu.Unlock()
		return Result{}, ErrNotRunning
	}
	prev := len(m.insts)
	var added, removed []*instance
	for i := prev; i < n; i++ {
		inst := m.newInstance(i)
		m.insts = append(m.insts, inst)
		m.changes.Add(1)
		added = append(added, inst)
		m.superviseLocked(inst)
	}
	if n < prev {
		removed = slices.Clone(m.insts[n:])
		m.insts = m.insts[:n]
		m.changes.Add(1)
	}
	m.mu.Unlock()
	m.log.Info("scaling service", "from", prev, "to", n)

	res := Result{
		Detail: fmt.Sprintf("scaled from %d to %d instances", prev, n),
		Fields: map[string]string{"instances": strconv.Itoa(n), "previous": strconv.Itoa(prev)},
	}
	finish := func() Result {
		var pids, ports []string
		for _, in := range m.Status() {
			pids, ports = append(pids, pidText(in.PID)), append(ports, strconv.Itoa(in.Port))
		}
		res.Fields["pids"], res.Fields["ports"] = strings.Join(pids, ","), strings.Join(ports, ",")
		return res
	}

	// Stop the removed instances together, so their grace periods overlap.
	slices.Reverse(removed)
	replies := make([]chan reply, len(removed))
	for i, inst := range removed {
		if replies[i], err = m.ask(ctx, inst, true); err != nil {
			return finish(), fmt.Errorf("scale: stop instance %d: %w", inst.index, err)
		}
	}
	var stopped, exits []string
	for i, inst := range removed {
		r, err := await(ctx, inst, replies[i])
		if err != nil {
			return finish(), fmt.Errorf("scale: stop instance %d: %w", inst.index, err)
		}
		stopped, exits = append(stopped, pidText(r.oldPID)), append(exits, cmp.Or(r.exit, "-"))
	}
	if len(removed) > 0 {
		res.Fields["stopped_pids"], res.Fields["exit_status"] = strings.Join(stopped, ","), strings.Join(exits, ",")
	}

	for _, inst := range added {
		if err := m.cfg.Health.Wait(ctx, inst.port); err != nil {
			return finish(), m.unhealthy("scale", inst, err)
		}
	}
	return finish(), nil
}

// Changes counts the changes to the instances and their states so far: whoever keeps something
// built from Status rebuilds it only when Changes has moved.
func (m *ProcessManager) Changes() uint64 { return m.changes.Load() }

// Status describes the instances, ordered by index.
func (m *ProcessManager) Status() []Instance {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Instance, len(m.insts))
	for i, inst := range m.insts {
		out[i] = inst.status
	}
	return out
}

// begin waits for the other Restart or Scale to finish and returns the function that lets the
// next one in, or ErrNotRunning when Run is not supervising.
func (m *ProcessManager) begin(ctx context.Context) (release func(), err error) {
	m.mu.Lock()
	running := m.running
	m.mu.Unlock()
	if !running {
		return nil, ErrNotRunning
	}
	select {
	case m.ops <- struct{}{}:
		return func() { <-m.ops }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// ask hands a request to inst's supervisor and returns the channel its reply comes on.
func (m *ProcessManager) ask(ctx context.Context, inst *instance, stop bool) (chan reply, error) {
	req := request{stop: stop, reply: make(chan reply, 1)}
	select {
	case inst.ctl <- req:
		return req.reply, nil
	case <-inst.gone:
		return nil, ErrNotRunning
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// call asks inst's supervisor to restart it and waits for the new process to start.
func (m *ProcessManager) call(ctx context.Context, inst *instance) (reply, error) {
	ch, err := m.ask(ctx, inst, false)
	if err != nil {
		return reply{}, err
	}
	r, err := await(ctx, inst, ch)
	if err == nil {
		err = r.err
	}
	return r, err
}

// await waits for the reply to a request inst's supervisor took.
func await(ctx context.Context, inst *instance, ch chan reply) (reply, error) {
	select {
	case r := <-ch:
		return r, nil
	case <-inst.gone:
		// The supervisor answers before it returns, so a reply may be waiting.
		select {
		case r := <-ch:
			return r, nil
		default:
			return reply{}, ErrNotRunning
		}
	case <-ctx.Done():
		return reply{}, ctx.Err()
	}
}

func (m *ProcessManager) pid(inst *instance) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return inst.status.PID
}

// unhealthy wraps a failed health check of inst with its process and output tail.
func (m *ProcessManager) unhealthy(op string, inst *instance, err error) error {
	m.mu.Lock()
	st := inst.status
	m.mu.Unlock()
	where := fmt.Sprintf("pid %d, port %d", st.PID, inst.port)
	if st.PID == 0 {
		where = fmt.Sprintf("not running, last exit %q, port %d", st.LastExit, inst.port)
	}
	return fmt.Errorf("%s instance %d (%s): %w; %s", op, inst.index, where, err, describeTail(inst.out.String()))
}

// pidText formats a PID for a Result, "-" when there was none.
func pidText(pid int) string {
	if pid == 0 {
		return "-"
	}
	return strconv.Itoa(pid)
}
