package systemd

import (
	"context"
	"fmt"
	"os"

	sdbus "github.com/coreos/go-systemd/v22/dbus"
)

// Conn is the small part of systemd's D-Bus API that Manager uses. DialDBus returns the real
// one; tests record the calls with a fake.
type Conn interface {
	// RestartUnit queues a restart job for the unit and waits for its result: "done",
	// "canceled", "timeout", "failed", "dependency" or "skipped".
	RestartUnit(ctx context.Context, name, mode string) (jobResult string, err error)
	// StartUnit queues a start job for the unit and waits for its result, as RestartUnit.
	StartUnit(ctx context.Context, name, mode string) (jobResult string, err error)
	// StopUnit queues a stop job for the unit and waits for its result, as RestartUnit.
	StopUnit(ctx context.Context, name, mode string) (jobResult string, err error)
	// UnitState returns the unit's ActiveState ("active", "inactive", "failed", ...),
	// SubState ("running", "dead", ...) and main process id (0 when none runs).
	UnitState(ctx context.Context, name string) (active, sub string, mainPID int, err error)
	// ListUnitsByPattern returns the names of the units systemd has loaded whose names match
	// one of the glob patterns, such as "dspy-worker@*.service".
	ListUnitsByPattern(ctx context.Context, patterns []string) ([]string, error)
	// Close releases the connection.
	Close()
}

// DialDBus connects to systemd over the system bus, or, when that bus is not there and the
// agent runs as root, over systemd's private socket. The connection lives until ctx ends or
// Close is called, so pass the agent's lifetime context, not a short dial timeout.
func DialDBus(ctx context.Context) (Conn, error) {
	c, err := sdbus.NewSystemConnectionContext(ctx)
	if err != nil && os.Geteuid() == 0 {
		c, err = sdbus.NewSystemdConnectionContext(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("connect to systemd over D-Bus: %w", err)
	}
	return dbusConn{c}, nil
}

// dbusConn is Conn backed by go-systemd.
type dbusConn struct {
	c *sdbus.Conn
}

// jobStarter is the shape of go-systemd's StartUnitContext, StopUnitContext and
// RestartUnitContext.
type jobStarter func(ctx context.Context, name, mode string, result chan<- string) (int, error)

// runJob queues a job with start and waits for its result or the end of ctx.
func runJob(ctx context.Context, start jobStarter, name, mode string) (string, error) {
	// go-systemd's signal dispatcher blocks until the result is received; the buffer lets it
	// go on when ctx ends first.
	result := make(chan string, 1)
	if _, err := start(ctx, name, mode, result); err != nil {
		return "", err
	}
	select {
	case r := <-result:
		return r, nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

func (d dbusConn) RestartUnit(ctx context.Context, name, mode string) (string, error) {
	return runJob(ctx, d.c.RestartUnitContext, name, mode)
}

func (d dbusConn) StartUnit(ctx context.Context, name, mode string) (string, error) {
	return runJob(ctx, d.c.StartUnitContext, name, mode)
}

func (d dbusConn) StopUnit(ctx context.Context, name, mode string) (string, error) {
	return runJob(ctx, d.c.StopUnitContext, name, mode)
}

func (d dbusConn) UnitState(ctx context.Context, name string) (string, string, int, error) {
	active, err := d.c.GetUnitPropertyContext(ctx, name, "ActiveState")
	if err != nil {
		return "", "", 0, err
	}
	sub, err := d.c.GetUnitPropertyContext(ctx, name, "SubState")
	if err != nil {
		return "", "", 0, err
	}
	pid, err := d.c.GetServicePropertyContext(ctx, name, "MainPID")
	if err != nil {
		return "", "", 0, err
	}
	a, ok1 := active.Value.Value().(string)
	s, ok2 := sub.Value.Value().(string)
	p, ok3 := pid.Value.Value().(uint32)
	if !ok1 || !ok2 || !ok3 {
		return "", "", 0, fmt.Errorf("unexpected property types for %s: ActiveState %s, SubState %s, MainPID %s",
			name, active.Value.Signature(), sub.Value.Signature(), pid.Value.Signature())
	}
	return a, s, int(p), nil
}

func (d dbusConn) ListUnitsByPattern(ctx context.Context, patterns []string) ([]string, error) {
	units, err := d.c.ListUnitsByPatternsContext(ctx, []string{}, patterns)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(units))
	for i, u := range units {
		names[i] = u.Name
	}
	return names, nil
}

func (d dbusConn) Close() { d.c.Close() }
