package systemd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"path"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dspyfleet/dspyfleet/agent/service"
)

// fakeConn plays systemd: it records every job with its mode and keeps each unit's state.
// systemd is not PID 1 here, so the real bus is tested only in TestDBusReal.
type fakeConn struct {
	mu      sync.Mutex
	jobs    []string             // "restart dspy.service replace", in call order
	units   map[string]*fakeUnit // units systemd has loaded
	results map[string]string    // "verb unit" -> job result other than "done"
	block   chan struct{}        // when set, jobs wait on it or their context
	lastPID int
}

type fakeUnit struct {
	active, sub string
	pid         int
}

func newFakeConn() *fakeConn {
	return &fakeConn{units: map[string]*fakeUnit{}, results: map[string]string{}, lastPID: 1000}
}

// running marks units as active with a fresh main PID, as if started before the test.
func (f *fakeConn) running(names ...string) *fakeConn {
	for _, n := range names {
		f.lastPID++
		f.units[n] = &fakeUnit{"active", "running", f.lastPID}
	}
	return f
}

func (f *fakeConn) job(ctx context.Context, verb, name, mode string) (string, error) {
	f.mu.Lock()
	f.jobs = append(f.jobs, verb+" "+name+" "+mode)
	block := f.block
	f.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if r, ok := f.results[verb+" "+name]; ok {
		f.units[name] = &fakeUnit{"failed", "failed", 0}
		return r, nil
	}
	switch verb {
	case "start", "restart":
		if u := f.units[name]; verb == "start" && u != nil && u.active == "active" {
			return "done", nil
		}
		f.lastPID++
		f.units[name] = &fakeUnit{"active", "running", f.lastPID}
	case "stop":
		f.units[name] = &fakeUnit{"inactive", "dead", 0}
	}
	return "done", nil
}

func (f *fakeConn) RestartUnit(ctx context.Context, name, mode string) (string, error) {
	return f.job(ctx, "restart", name, mode)
}

func (f *fakeConn) StartUnit(ctx context.Context, name, mode string) (string, error) {
	return f.job(ctx, "start", name, mode)
}

func (f *fakeConn) StopUnit(ctx context.Context, name, mode string) (string, error) {
	return f.job(ctx, "stop", name, mode)
}

func (f *fakeConn) UnitState(_ context.Context, name string) (string, string, int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if u, ok := f.units[name]; ok {
		return u.active, u.sub, u.pid, nil
	}
	return "inactive", "dead", 0, nil // systemd loads a unit on demand and reports it stopped
}

func (f *fakeConn) ListUnitsByPattern(_ context.Context, patterns []string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var names []string
	for name := range f.units {
		for _, p := range patterns {
			if ok, _ := path.Match(p, name); ok {
				names = append(names, name)
			}
		}
	}
	slices.Sort(names)
	return names, nil
}

func (f *fakeConn) Close() {}

// takeJobs returns the jobs recorded since the last call.
func (f *fakeConn) takeJobs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	jobs := f.jobs
	f.jobs = nil
	return jobs
}

// jobsSoFar returns the jobs recorded since the last takeJobs.
func (f *fakeConn) jobsSoFar() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.jobs)
}

func (f *fakeConn) pid(name string) int {
	_, _, pid, _ := f.UnitState(context.Background(), name)
	return pid
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newManager(t *testing.T, cfg Config, conn Conn) *Manager {
	t.Helper()
	m, err := New(cfg, conn, quietLog())
	if err != nil {
		t.Fatalf("New(%+v): %v", cfg, err)
	}
	return m
}

// healthServers serves the health check on count consecutive loopback ports and returns the
// first. Instances whose index is in failing answer 503.
func healthServers(t *testing.T, count int, failing ...int) int {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		base := l.Addr().(*net.TCPAddr).Port
		listeners := []net.Listener{l}
		for i := 1; i < count && base+i <= 65535; i++ {
			li, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", base+i))
			if err != nil {
				break
			}
			listeners = append(listeners, li)
		}
		if len(listeners) < count {
			for _, li := range listeners {
				li.Close()
			}
			continue
		}
		for i, li := range listeners {
			status := http.StatusOK
			if slices.Contains(failing, i) {
				status = http.StatusServiceUnavailable
			}
			srv := &httptest.Server{
				Listener: li,
				Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Path != "/health" {
						http.NotFound(w, r)
						return
					}
					w.WriteHeader(status)
				})},
			}
			srv.Start()
			t.Cleanup(srv.Close)
		}
		return base
	}
	t.Fatalf("found no %d consecutive free loopback ports", count)
	return 0
}

func healthCheck() service.HealthCheck {
	return service.HealthCheck{URL: "http://127.0.0.1:{port}/health", Timeout: 2 * time.Second, Interval: 20 * time.Millisecond}
}

func TestRestartUnit(t *testing.T) {
	conn := newFakeConn().running("dspy.service")
	base := healthServers(t, 1)
	m := newManager(t, Config{Unit: "dspy.service", BasePort: base, Health: healthCheck()}, conn)
	oldPID := conn.pid("dspy.service")

	res, err := m.Restart(t.Context())
	if err != nil {
		t.Fatalf("Restart: %v", err)
	}
	if got, want := conn.takeJobs(), []string{"restart dspy.service replace"}; !slices.Equal(got, want) {
		t.Errorf("jobs = %q, want %q", got, want)
	}
	newPID := conn.pid("dspy.service")
	want := map[string]string{"units": "dspy.service", "old_pids": fmt.Sprint(oldPID), "new_pids": fmt.Sprint(newPID)}
	if !maps.Equal(res.Fields, want) || newPID == oldPID {
		t.Errorf("fields = %v, want %v with a new pid", res.Fields, want)
	}
	if !strings.Contains(res.Detail, "dspy.service") {
		t.Errorf("detail %q does not name the unit", res.Detail)
	}
}

func TestRestartTemplate(t *testing.T) {
	// 0 and 2 run, 1 crashed, 3 was scaled away, "debug" is not ours.
	conn := newFakeConn().running("dspy-worker@0.service", "dspy-worker@2.service", "dspy-worker@debug.service", "other@0.service")
	conn.units["dspy-worker@1.service"] = &fakeUnit{"failed", "failed", 0}
	conn.units["dspy-worker@3.service"] = &fakeUnit{"inactive", "dead", 0}
	base := healthServers(t, 3)
	m := newManager(t, Config{TemplateUnit: "dspy-worker@.service", BasePort: base, Health: healthCheck()}, conn)
	old0, old2 := conn.pid("dspy-worker@0.service"), conn.pid("dspy-worker@2.service")

	res, err := m.Restart(t.Context())
	if err != nil {
		t.Fatalf("Restart: %v", err)
	}
	want := []string{
		"restart dspy-worker@0.service replace",
		"restart dspy-worker@1.service replace",
		"restart dspy-worker@2.service replace",
	}
	if got := conn.takeJobs(); !slices.Equal(got, want) {
		t.Errorf("jobs = %q, want %q", got, want)
	}
	wantFields := map[string]string{
		"units":    "dspy-worker@0.service,dspy-worker@1.service,dspy-worker@2.service",
		"old_pids": fmt.Sprintf("%d,0,%d", old0, old2),
		"new_pids": fmt.Sprintf("%d,%d,%d", conn.pid("dspy-worker@0.service"), conn.pid("dspy-worker@1.service"), conn.pid("dspy-worker@2.service")),
	}
	if !maps.Equal(res.Fields, wantFields) {
		t.Errorf("fields = %v, want %v", res.Fields, wantFields)
	}
}

func TestRestartTemplateNothingRunning(t *testing.T) {
	conn := newFakeConn()
	conn.units["dspy-worker@0.service"] = &fakeUnit{"inactive", "dead", 0}
	m := newManager(t, Config{TemplateUnit: "dspy-worker@.service"}, conn)
	if _, err := m.Restart(t.Context()); !errors.Is(err, ErrNoInstances) {
		t.Errorf("Restart = %v, want ErrNoInstances", err)
	}
	if jobs := conn.takeJobs(); len(jobs) != 0 {
		t.Errorf("jobs = %q, want none", jobs)
	}
}

func TestScaleUpAndDown(t *testing.T) {
	conn := newFakeConn()
	base := healthServers(t, 3)
	m := newManager(t, Config{TemplateUnit: "dspy-worker@.service", BasePort: base, Health: healthCheck()}, conn)

	steps := []struct {
		n       int
		jobs    []string
		started string
		stopped string
	}{
		{1, []string{"start dspy-worker@0.service replace"}, "dspy-worker@0.service", ""},
		{3, []string{"start dspy-worker@1.service replace", "start dspy-worker@2.service replace"}, "dspy-worker@1.service,dspy-worker@2.service", ""},
		{3, nil, "", ""},
		{1, []string{"stop dspy-worker@2.service replace", "stop dspy-worker@1.service replace"}, "", "dspy-worker@2.service,dspy-worker@1.service"},
	}
	for _, s := range steps {
		res, err := m.Scale(t.Context(), s.n)
		if err != nil {
			t.Fatalf("Scale(%d): %v", s.n, err)
		}
		if got := conn.takeJobs(); !slices.Equal(got, s.jobs) {
			t.Errorf("Scale(%d) jobs = %q, want %q", s.n, got, s.jobs)
		}
		want := map[string]string{"instances": fmt.Sprint(s.n), "started": s.started, "stopped": s.stopped}
		if !maps.Equal(res.Fields, want) {
			t.Errorf("Scale(%d) fields = %v, want %v", s.n, res.Fields, want)
		}
	}

	st := m.Status()
	var got []string
	for _, in := range st {
		got = append(got, fmt.Sprintf("%d:%d:%s:%t", in.Index, in.Port-base, in.State, in.PID > 0))
	}
	want := []string{"0:0:active (running):true", "1:1:inactive (dead):false", "2:2:inactive (dead):false"}
	if !slices.Equal(got, want) {
		t.Errorf("Status = %q, want %q", got, want)
	}
}

func TestScaleRestartsFailedInstance(t *testing.T) {
	conn := newFakeConn().running("dspy-worker@0.service")
	conn.units["dspy-worker@1.service"] = &fakeUnit{"failed", "failed", 0}
	m := newManager(t, Config{TemplateUnit: "dspy-worker@.service"}, conn)
	if _, err := m.Scale(t.Context(), 2); err != nil {
		t.Fatalf("Scale: %v", err)
	}
	if got, want := conn.takeJobs(), []string{"start dspy-worker@1.service replace"}; !slices.Equal(got, want) {
		t.Errorf("jobs = %q, want %q", got, want)
	}
}

func TestScaleRefused(t *testing.T) {
	conn := newFakeConn()
	unitMode := newManager(t, Config{Unit: "dspy.service"}, conn)
	if _, err := unitMode.Scale(t.Context(), 2); !errors.Is(err, ErrNotTemplate) || err.Error() != "scale needs template_unit" {
		t.Errorf("Scale on a unit = %v, want %q", err, ErrNotTemplate)
	}
	tmpl := newManager(t, Config{TemplateUnit: "dspy-worker@.service", BasePort: 65000}, conn)
	for _, n := range []int{-1, 600} {
		if _, err := tmpl.Scale(t.Context(), n); err == nil {
			t.Errorf("Scale(%d) succeeded, want an error", n)
		}
	}
	if jobs := conn.takeJobs(); len(jobs) != 0 {
		t.Errorf("jobs = %q, want none", jobs)
	}
}

func TestJobFailed(t *testing.T) {
	conn := newFakeConn().running("dspy.service")
	conn.results["restart dspy.service"] = "failed"
	m := newManager(t, Config{Unit: "dspy.service"}, conn)
	_, err := m.Restart(t.Context())
	if !errors.Is(err, ErrJobFailed) || !strings.Contains(err.Error(), "dspy.service") || !strings.Contains(err.Error(), `"failed"`) {
		t.Errorf("Restart = %v, want ErrJobFailed naming dspy.service and \"failed\"", err)
	}

	conn = newFakeConn()
	conn.results["start dspy-worker@1.service"] = "dependency"
	m = newManager(t, Config{TemplateUnit: "dspy-worker@.service"}, conn)
	res, err := m.Scale(t.Context(), 3)
	if !errors.Is(err, ErrJobFailed) || !strings.Contains(err.Error(), "dspy-worker@1.service") || !strings.Contains(err.Error(), `"dependency"`) {
		t.Errorf("Scale = %v, want ErrJobFailed naming dspy-worker@1.service and \"dependency\"", err)
	}
	// The scale stops at the failed job and reports what it did.
	if got, want := conn.takeJobs(), []string{"start dspy-worker@0.service replace", "start dspy-worker@1.service replace"}; !slices.Equal(got, want) {
		t.Errorf("jobs = %q, want %q", got, want)
	}
	if res.Fields["started"] != "dspy-worker@0.service" {
		t.Errorf("started = %q, want dspy-worker@0.service", res.Fields["started"])
	}
}

func TestJobTimeout(t *testing.T) {
	conn := newFakeConn().running("dspy.service")
	conn.block = make(chan struct{})
	m := newManager(t, Config{Unit: "dspy.service", JobTimeout: 50 * time.Millisecond}, conn)
	_, err := m.Restart(t.Context())
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "no job result within 50ms") {
		t.Errorf("Restart = %v, want a job timeout", err)
	}
}

func TestHealthFailure(t *testing.T) {
	conn := newFakeConn().running("dspy-worker@0.service", "dspy-worker@1.service")
	base := healthServers(t, 2, 1)
	hc := healthCheck()
	hc.Timeout = 300 * time.Millisecond
	m := newManager(t, Config{TemplateUnit: "dspy-worker@.service", BasePort: base, Health: hc}, conn)

	res, err := m.Restart(t.Context())
	if err == nil || !strings.Contains(err.Error(), "dspy-worker@1.service") || !strings.Contains(err.Error(), fmt.Sprint(base+1)) {
		t.Fatalf("Restart = %v, want a health failure naming dspy-worker@1.service and port %d", err, base+1)
	}
	if res.Fields["units"] != "dspy-worker@0.service,dspy-worker@1.service" {
		t.Errorf("units = %q, want both restarted", res.Fields["units"])
	}

	_, err = m.Scale(t.Context(), 0)
	if err != nil {
		t.Fatalf("Scale(0): %v", err)
	}
	conn.takeJobs()
	if _, err := m.Scale(t.Context(), 2); err == nil || !strings.Contains(err.Error(), "dspy-worker@1.service") {
		t.Errorf("Scale(2) = %v, want a health failure naming dspy-worker@1.service", err)
	}
}

func TestNewRejects(t *testing.T) {
	long := strings.Repeat("a", 248) + ".service" // 256 characters
	tests := []struct {
		name string
		cfg  Config
	}{
		{"nothing", Config{}},
		{"both", Config{Unit: "dspy.service", TemplateUnit: "dspy-worker@.service"}},
		{"not a service", Config{Unit: "dspy.socket"}},
		{"no stem", Config{Unit: ".service"}},
		{"space", Config{Unit: "dspy api.service"}},
		{"slash", Config{Unit: "../dspy.service"}},
		{"glob", Config{Unit: "dspy*.service"}},
		{"backslash", Config{Unit: `dspy\x2d.service`}},
		{"semicolon", Config{Unit: "dspy.service;reboot"}},
		{"newline", Config{Unit: "dspy.service\n"}},
		{"unicode", Config{Unit: "dspÿ.service"}},
		{"too long", Config{Unit: long}},
		{"template as unit", Config{Unit: "dspy@.service"}},
		{"two @", Config{Unit: "dspy@a@b.service"}},
		{"template without @.", Config{TemplateUnit: "dspy-worker.service"}},
		{"template instance", Config{TemplateUnit: "dspy-worker@0.service"}},
		{"template no prefix", Config{TemplateUnit: "@.service"}},
		{"template not a service", Config{TemplateUnit: "dspy-worker@.socket"}},
		{"template two @", Config{TemplateUnit: "a@b@.service"}},
		{"template glob", Config{TemplateUnit: "dspy-*@.service"}},
		{"port", Config{Unit: "dspy.service", BasePort: 70000}},
		{"health without port", Config{Unit: "dspy.service", Health: healthCheck()}},
		{"negative timeout", Config{Unit: "dspy.service", JobTimeout: -time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.cfg, newFakeConn(), quietLog()); err == nil {
				t.Errorf("New(%+v) succeeded, want an error", tt.cfg)
			}
		})
	}
	if _, err := New(Config{Unit: "dspy.service"}, nil, nil); err == nil {
		t.Error("New with a nil Conn succeeded")
	}
}

func TestNewAccepts(t *testing.T) {
	for _, cfg := range []Config{
		{Unit: "dspy.service"},
		{Unit: "dspy-api_v2:blue.service"},
		{Unit: "dspy@main.service"},
		{Unit: strings.Repeat("a", 247) + ".service"},
		{TemplateUnit: "dspy-worker@.service", BasePort: 8000, Health: healthCheck()},
	} {
		if _, err := New(cfg, newFakeConn(), nil); err != nil {
			t.Errorf("New(%+v): %v", cfg, err)
		}
	}
}

func TestRunStopsWithContext(t *testing.T) {
	m := newManager(t, Config{Unit: "dspy.service"}, newFakeConn())
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := m.Run(ctx); err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
}

// TestOneCommandAtATime runs in a synctest bubble: the fake systemd does no I/O, so
// synctest.Wait says when the Restart is blocked in its job, and the Scale's timeout passes in
// virtual time.
func TestOneCommandAtATime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		conn := newFakeConn().running("dspy-worker@0.service")
		conn.block = make(chan struct{})
		m := newManager(t, Config{TemplateUnit: "dspy-worker@.service"}, conn)
		done := make(chan error)
		go func() {
			_, err := m.Restart(t.Context())
			done <- err
		}()
		synctest.Wait()
		restart := []string{"restart dspy-worker@0.service replace"}
		if got := conn.jobsSoFar(); !slices.Equal(got, restart) {
			t.Fatalf("jobs while the Restart is blocked = %q, want %q", got, restart)
		}

		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		if _, err := m.Scale(ctx, 2); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Scale during a Restart = %v, want it to wait until its context ends", err)
		}
		close(conn.block)
		if err := <-done; err != nil {
			t.Fatalf("Restart: %v", err)
		}
		if got := conn.takeJobs(); !slices.Equal(got, restart) {
			t.Errorf("jobs = %q, want %q", got, restart)
		}
	})
}

func FuzzUnitNames(f *testing.F) {
	for _, s := range []string{"dspy.service", "dspy-worker@.service", "dspy@0.service", "a@b@.service", "x*.service", ".service"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		for _, validate := range []func(string) error{validateUnit, validateTemplate} {
			if validate(name) != nil {
				continue
			}
			if !strings.HasSuffix(name, ".service") || len(name) > maxUnitName || !validUnitChars(name) {
				t.Fatalf("accepted %q", name)
			}
		}
		if validateTemplate(name) == nil {
			tmpl := newTemplate(name)
			if strings.Count(tmpl.pattern(), "*") != 1 {
				t.Fatalf("pattern %q of %q", tmpl.pattern(), name)
			}
			for _, i := range []int{0, 7, 1234} {
				if got, ok := tmpl.index(tmpl.unit(i)); !ok || got != i || (validateUnit(tmpl.unit(i)) != nil && len(tmpl.unit(i)) <= maxUnitName) {
					t.Fatalf("instance %d of %q: unit %q, index %d %t", i, name, tmpl.unit(i), got, ok)
				}
			}
		}
	})
}
