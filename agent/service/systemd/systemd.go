// Package systemd implements service.Manager for a DSPy service that systemd supervises.
//
// The agent never supervises these processes itself: it asks systemd over D-Bus to restart the
// configured unit, or to start and stop instances of a template unit (dspy-worker@0.service,
// dspy-worker@1.service, ...) to scale, then waits for each job's result and for the instance's
// health check. Unit names come only from the agent's configuration; the control plane chooses
// the action and an instance count, never a unit.
package systemd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dspyfleet/dspyfleet/agent/service"
)

// Errors returned by Manager; they are wrapped with the unit and details.
var (
	// ErrNotTemplate is returned by Scale when no template_unit is configured.
	ErrNotTemplate = errors.New("scale needs template_unit")
	// ErrJobFailed means a systemd job ended with a result other than "done".
	ErrJobFailed = errors.New("systemd job did not succeed")
	// ErrNoInstances is returned by Restart when no instance of the template is running.
	ErrNoInstances = errors.New("no instance to restart")
)

const (
	defaultJobTimeout = 90 * time.Second
	// statusTimeout bounds the D-Bus queries of one Status call.
	statusTimeout = 5 * time.Second
	// jobMode lets a job replace conflicting queued jobs, as systemctl does by default.
	jobMode = "replace"
)

// Config says which units the Manager drives.
type Config struct {
	// Unit is the service Restart restarts when TemplateUnit is empty, such as "dspy.service".
	Unit string
	// TemplateUnit is a template service such as "dspy-worker@.service"; Scale runs its
	// instances dspy-worker@0.service … dspy-worker@N-1.service and Restart restarts them.
	TemplateUnit string
	// BasePort is the health check port: instance i of TemplateUnit answers on BasePort+i,
	// Unit on BasePort. It is required when Health is set.
	BasePort int
	// Health checks a restarted or started instance; the zero value checks nothing.
	Health service.HealthCheck
	// JobTimeout bounds the wait for each systemd job's result; 0 means 90s.
	JobTimeout time.Duration
}

// Manager restarts and scales systemd units. It implements service.Manager.
type Manager struct {
	cfg  Config
	conn Conn
	log  *slog.Logger
	tmpl template      // zero unless cfg.TemplateUnit is set
	ops  chan struct{} // holds a token while a Restart or Scale runs
}

var _ service.Manager = (*Manager)(nil)

// New checks cfg and returns a Manager that drives units through conn. It starts nothing and
// does not close conn; the caller does. A nil log means slog.Default().
func New(cfg Config, conn Conn, log *slog.Logger) (*Manager, error) {
	if conn == nil {
		return nil, fmt.Errorf("%w: nil systemd Conn", service.ErrInvalidConfig)
	}
	if log == nil {
		log = slog.Default()
	}
	if cfg.JobTimeout == 0 {
		cfg.JobTimeout = defaultJobTimeout
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m := &Manager{cfg: cfg, conn: conn, log: log, ops: make(chan struct{}, 1)}
	if cfg.TemplateUnit != "" {
		m.tmpl = newTemplate(cfg.TemplateUnit)
	}
	return m, nil
}

// Validate reports every invalid setting of c, without connecting to systemd.
func (c Config) Validate() error {
	var errs []error
	switch {
	case c.Unit == "" && c.TemplateUnit == "":
		errs = append(errs, fmt.Errorf("%w: set unit or template_unit", service.ErrInvalidConfig))
	case c.Unit != "" && c.TemplateUnit != "":
		errs = append(errs, fmt.Errorf("%w: set unit %q or template_unit %q, not both", service.ErrInvalidConfig, c.Unit, c.TemplateUnit))
	case c.TemplateUnit != "":
		errs = append(errs, validateTemplate(c.TemplateUnit))
	default:
		errs = append(errs, validateUnit(c.Unit))
	}
	if c.BasePort < 0 || c.BasePort > 65535 {
		errs = append(errs, fmt.Errorf("%w: base_port %d is not a port number", service.ErrInvalidConfig, c.BasePort))
	}
	if c.healthChecked() {
		if c.BasePort == 0 {
			errs = append(errs, fmt.Errorf("%w: base_port is required with a health check", service.ErrInvalidConfig))
		}
		errs = append(errs, c.Health.Validate())
	}
	if c.JobTimeout < 0 {
		errs = append(errs, fmt.Errorf("%w: job_timeout %s must not be negative", service.ErrInvalidConfig, c.JobTimeout))
	}
	return errors.Join(errs...)
}

func (c Config) healthChecked() bool {
	return c.Health.URL != "" || c.Health.TCP != ""
}

// Run waits for ctx to end and returns nil: systemd, not the agent, supervises the units.
func (m *Manager) Run(ctx context.Context) error {
	<-ctx.Done()
	return nil
}

// unit is one service the Manager drives, as systemd last reported it.
type unit struct {
	name   string
	index  int
	active string // ActiveState
	sub    string // SubState
	pid    int    // MainPID
}

// Restart restarts Unit, or one by one every running or failed instance of TemplateUnit,
// waiting for each job and health check before the next so the service keeps serving. Stopped
// instances stay stopped, so a restart never undoes a scale-down. The Result names the units
// and their main PIDs before and after; on error it holds the units restarted so far.
func (m *Manager) Restart(ctx context.Context) (service.Result, error) {
	if err := m.lock(ctx); err != nil {
		return service.Result{}, err
	}
	defer m.unlock()

	var targets []unit
	if m.tmpl == (template{}) {
		u, err := m.state(ctx, m.cfg.Unit, 0)
		if err != nil {
			return service.Result{}, err
		}
		targets = []unit{u}
	} else {
		all, err := m.instances(ctx, 0)
		if err != nil {
			return service.Result{}, err
		}
		for _, u := range all {
			if u.running() || u.active == "failed" {
				targets = append(targets, u)
			}
		}
		if len(targets) == 0 {
			return service.Result{}, fmt.Errorf("restart %s: %w", m.cfg.TemplateUnit, ErrNoInstances)
		}
	}

	var names, oldPIDs, newPIDs []string
	result := func() service.Result {
		detail := "restarted no unit"
		if len(names) > 0 {
			detail = "restarted " + strings.Join(names, ", ")
		}
		return service.Result{
			Detail: detail,
			Fields: map[string]string{
				"units":    strings.Join(names, ","),
				"old_pids": strings.Join(oldPIDs, ","),
				"new_pids": strings.Join(newPIDs, ","),
			},
		}
	}
	for _, u := range targets {
		if err := m.job(ctx, "restart", u.name, m.conn.RestartUnit); err != nil {
			return result(), err
		}
		after, err := m.state(ctx, u.name, u.index)
		if err != nil {
			return result(), err
		}
		names = append(names, u.name)
		oldPIDs = append(oldPIDs, strconv.Itoa(u.pid))
		newPIDs = append(newPIDs, strconv.Itoa(after.pid))
		m.log.Info("restarted unit", "unit", u.name, "old_pid", u.pid, "new_pid", after.pid)
		if err := m.checkHealth(ctx, u); err != nil {
			return result(), err
		}
	}
	return result(), nil
}

// Scale starts instances 0..n-1 of TemplateUnit that are not active, stops the active
// instances numbered n or more (highest first), then waits for the health checks of the
// instances it started.
func (m *Manager) Scale(ctx context.Context, n int) (service.Result, error) {
	if m.tmpl == (template{}) {
		return service.Result{}, ErrNotTemplate
	}
	if n < 0 {
		return service.Result{}, fmt.Errorf("%w: scale %s to %d instances: the count must not be negative", service.ErrInvalidScale, m.cfg.TemplateUnit, n)
	}
	if m.cfg.BasePort > 0 && m.cfg.BasePort+n-1 > 65535 {
		return service.Result{}, fmt.Errorf("%w: scale %s to %d instances: ports from base_port %d would pass 65535", service.ErrInvalidScale, m.cfg.TemplateUnit, n, m.cfg.BasePort)
	}
	if err := m.lock(ctx); err != nil {
		return service.Result{}, err
	}
	defer m.unlock()

	all, err := m.instances(ctx, n)
	if err != nil {
		return service.Result{}, err
	}
	var start, stop []unit
	for _, u := range all {
		switch {
		case u.index < n && u.active != "active":
			start = append(start, u)
		case u.index >= n && u.active != "inactive" && u.active != "failed":
			stop = append(stop, u)
		}
	}
	slices.Reverse(stop)

	var started, stopped []string
	result := func() service.Result {
		return service.Result{
			Detail: fmt.Sprintf("scaled %s to %d instances: started %d, stopped %d", m.cfg.TemplateUnit, n, len(started), len(stopped)),
			Fields: map[string]string{
				"instances": strconv.Itoa(n),
				"started":   strings.Join(started, ","),
				"stopped":   strings.Join(stopped, ","),
			},
		}
	}
	for _, u := range start {
		if err := m.job(ctx, "start", u.name, m.conn.StartUnit); err != nil {
			return result(), err
		}
		started = append(started, u.name)
		m.log.Info("started unit", "unit", u.name)
	}
	for _, u := range stop {
		if err := m.job(ctx, "stop", u.name, m.conn.StopUnit); err != nil {
			return result(), err
		}
		stopped = append(stopped, u.name)
		m.log.Info("stopped unit", "unit", u.name)
	}
	for _, u := range start {
		if err := m.checkHealth(ctx, u); err != nil {
			return result(), err
		}
	}
	return result(), nil
}

// Status reports Unit, or every instance of TemplateUnit systemd has loaded, ordered by index.
// Restarts, LastExit and StartedAt stay zero: systemd keeps those (systemctl status shows them).
func (m *Manager) Status() []service.Instance {
	ctx, cancel := context.WithTimeout(context.Background(), statusTimeout)
	defer cancel()
	var units []unit
	if m.tmpl == (template{}) {
		u, err := m.state(ctx, m.cfg.Unit, 0)
		if err != nil {
			m.log.Warn("unit status", "unit", m.cfg.Unit, "err", err)
			return nil
		}
		units = []unit{u}
	} else {
		var err error
		if units, err = m.instances(ctx, 0); err != nil {
			m.log.Warn("unit status", "template_unit", m.cfg.TemplateUnit, "err", err)
			return nil
		}
	}
	out := make([]service.Instance, len(units))
	for i, u := range units {
		out[i] = service.Instance{Index: u.index, PID: u.pid, Port: m.port(u.index), State: u.active + " (" + u.sub + ")"}
	}
	return out
}

// instances returns the state of every loaded instance of the template that this manager
// names, plus instances 0..atLeast-1 whether loaded or not, ordered by index.
func (m *Manager) instances(ctx context.Context, atLeast int) ([]unit, error) {
	names, err := m.conn.ListUnitsByPattern(ctx, []string{m.tmpl.pattern()})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", m.tmpl.pattern(), err)
	}
	seen := make(map[int]bool)
	for i := range atLeast {
		seen[i] = true
	}
	for _, name := range names {
		if i, ok := m.tmpl.index(name); ok {
			seen[i] = true
		}
	}
	indexes := make([]int, 0, len(seen))
	for i := range seen {
		indexes = append(indexes, i)
	}
	slices.Sort(indexes)
	units := make([]unit, len(indexes))
	for k, i := range indexes {
		if units[k], err = m.state(ctx, m.tmpl.unit(i), i); err != nil {
			return nil, err
		}
	}
	return units, nil
}

func (m *Manager) state(ctx context.Context, name string, index int) (unit, error) {
	active, sub, pid, err := m.conn.UnitState(ctx, name)
	if err != nil {
		return unit{}, fmt.Errorf("state of %s: %w", name, err)
	}
	return unit{name: name, index: index, active: active, sub: sub, pid: pid}, nil
}

// running reports whether u is up or on its way up.
func (u unit) running() bool {
	switch u.active {
	case "active", "activating", "reloading":
		return true
	}
	return false
}

// job runs one systemd job through run and waits at most JobTimeout for its result.
func (m *Manager) job(ctx context.Context, verb, name string, run func(ctx context.Context, name, mode string) (string, error)) error {
	jobCtx, cancel := context.WithTimeout(ctx, m.cfg.JobTimeout)
	defer cancel()
	result, err := run(jobCtx, name, jobMode)
	switch {
	case err != nil && ctx.Err() == nil && jobCtx.Err() != nil:
		return fmt.Errorf("%s %s: no job result within %s: %w", verb, name, m.cfg.JobTimeout, err)
	case err != nil:
		return fmt.Errorf("%s %s: %w", verb, name, err)
	case result != "done":
		return fmt.Errorf("%s %s: %w: result %q; see journalctl -u %s", verb, name, ErrJobFailed, result, name)
	}
	return nil
}

func (m *Manager) checkHealth(ctx context.Context, u unit) error {
	if !m.cfg.healthChecked() {
		return nil
	}
	if err := m.cfg.Health.Wait(ctx, m.port(u.index)); err != nil {
		return fmt.Errorf("%s health check on port %d: %w", u.name, m.port(u.index), err)
	}
	return nil
}

// port returns instance i's health check port, or 0 without a BasePort.
func (m *Manager) port(i int) int {
	if m.cfg.BasePort == 0 {
		return 0
	}
	return m.cfg.BasePort + i
}

func (m *Manager) lock(ctx context.Context) error {
	select {
	case m.ops <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (m *Manager) unlock() { <-m.ops }
