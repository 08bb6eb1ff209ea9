package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// testConfig runs healthsrv with args on free ports for instances (up to max) instances.
func testConfig(t *testing.T, maxInstances int, args ...string) ProcessConfig {
	return ProcessConfig{
		Command:        append([]string{healthsrv}, args...),
		MaxInstances:   maxInstances,
		BasePort:       freePorts(t, maxInstances),
		StopGrace:      5 * time.Second,
		RestartBackoff: 50 * time.Millisecond,
		Health:         HealthCheck{URL: "http://127.0.0.1:{port}/healthz", Timeout: 10 * time.Second, Interval: 20 * time.Millisecond},
	}
}

// runManager starts Run and stops it when the test ends; stop cancels Run and returns its
// error once it returned.
func runManager(t *testing.T, cfg ProcessConfig) (m *ProcessManager, stop func() error) {
	t.Helper()
	m, err := NewProcessManager(cfg, slog.New(slog.NewTextHandler(t.Output(), nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	var result error
	stopped := false
	stop = func() error {
		if !stopped {
			stopped = true
			cancel()
			select {
			case result = <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("Run did not return 30s after its ctx ended")
			}
		}
		return result
	}
	t.Cleanup(func() { _ = stop() })
	eventually(t, 10*time.Second, "Run to start", func() bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		return m.running
	})
	return m, stop
}

// waitHealthy waits for every instance's health check and returns their PIDs.
// An instance counts once it runs with a pid, passes its health check and answers /info with
// that pid: a healthsrv of another package's tests may hold the same port for a moment, and
// would otherwise pass for an instance not started yet.
func waitHealthy(t *testing.T, m *ProcessManager) []int {
	t.Helper()
	var pids []int
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.Now().Add(15 * time.Second)
	for _, in := range m.Status() {
		for {
			st := m.Status()[in.Index]
			if st.PID != 0 && st.State == StateRunning && m.cfg.Health.Wait(testContext(t), st.Port) == nil && info(t, st.Port).PID == st.PID {
				pids = append(pids, st.PID)
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("instance %d not healthy within 15s: %+v", in.Index, st)
			}
			<-tick.C
		}
	}
	return pids
}

type serverInfo struct {
	PID      int      `json:"pid"`
	Port     string   `json:"port"`
	Instance string   `json:"instance"`
	Extra    string   `json:"extra"`
	Args     []string `json:"args"`
}

// info asks the healthsrv on port who it is.
func info(t *testing.T, port int) serverInfo {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/info", port))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var si serverInfo
	if err := json.NewDecoder(resp.Body).Decode(&si); err != nil {
		t.Fatal(err)
	}
	return si
}

func TestProcessManagerRunsInstances(t *testing.T) {
	cfg := testConfig(t, 2, "-port={port}")
	cfg.Instances = 2
	cfg.Env = []string{"EXTRA=from-config"}
	m, stop := runManager(t, cfg)
	pids := waitHealthy(t, m)

	for i, in := range m.Status() {
		if in.Index != i || in.Port != cfg.BasePort+i || in.State != StateRunning || in.PID != pids[i] || in.Restarts != 0 || in.StartedAt.IsZero() {
			t.Errorf("Status()[%d] = %+v, want a running instance on port %d", i, in, cfg.BasePort+i)
		}
		si := info(t, in.Port)
		want := serverInfo{PID: in.PID, Port: strconv.Itoa(in.Port), Instance: strconv.Itoa(i), Extra: "from-config", Args: []string{"-port=" + strconv.Itoa(in.Port)}}
		if si.PID != want.PID || si.Port != want.Port || si.Instance != want.Instance || si.Extra != want.Extra || strings.Join(si.Args, " ") != strings.Join(want.Args, " ") {
			t.Errorf("instance %d sees %+v, want %+v", i, si, want)
		}
	}

	if err := stop(); err != nil {
		t.Fatalf("Run() = %v, want nil after ctx ended", err)
	}
	for i, in := range m.Status() {
		if alive(pids[i]) {
			t.Errorf("pid %d still alive after Run returned", pids[i])
		}
		if in.State != StateStopped || in.PID != 0 || in.LastExit != "signal: terminated" {
			t.Errorf("Status()[%d] after Run = %+v, want stopped by SIGTERM", i, in)
		}
	}
}

func TestProcessManagerRestart(t *testing.T) {
	cfg := testConfig(t, 2)
	cfg.Instances = 2
	m, _ := runManager(t, cfg)
	oldPIDs := waitHealthy(t, m)

	res, err := m.Restart(testContext(t))
	if err != nil {
		t.Fatalf("Restart() = %v", err)
	}
	status := m.Status()
	newPIDs := []int{status[0].PID, status[1].PID}
	join := func(pids []int) string { return fmt.Sprintf("%d,%d", pids[0], pids[1]) }
	if res.Fields["old_pids"] != join(oldPIDs) || res.Fields["new_pids"] != join(newPIDs) {
		t.Errorf("Restart() Fields = %v, want old_pids %s, new_pids %s", res.Fields, join(oldPIDs), join(newPIDs))
	}
	if res.Fields["exit_status"] != "signal: terminated,signal: terminated" {
		t.Errorf("exit_status = %q, want both stopped by SIGTERM", res.Fields["exit_status"])
	}
	for _, pid := range oldPIDs {
		if !strings.Contains(res.Detail, strconv.Itoa(pid)) {
			t.Errorf("Detail %q does not name old pid %d", res.Detail, pid)
		}
	}
	for i, in := range status {
		if in.PID == oldPIDs[i] || !alive(in.PID) || alive(oldPIDs[i]) {
			t.Errorf("instance %d: old pid %d (alive %t), new pid %d (alive %t)", i, oldPIDs[i], alive(oldPIDs[i]), in.PID, alive(in.PID))
		}
		if in.State != StateRunning || in.Restarts != 1 || in.LastExit != "signal: terminated" {
			t.Errorf("Status()[%d] = %+v, want running with 1 restart", i, in)
		}
		if err := cfg.Health.Wait(testContext(t), in.Port); err != nil {
			t.Errorf("instance %d after Restart: %v", i, err)
		}
		if got := info(t, in.Port).PID; got != in.PID {
			t.Errorf("port %d is served by pid %d, want %d", in.Port, got, in.PID)
		}
	}
}

func TestProcessManagerRestartUnhealthy(t *testing.T) {
	cfg := testConfig(t, 1, "-unhealthy")
	cfg.Health.Timeout = 500 * time.Millisecond
	m, _ := runManager(t, cfg)
	eventually(t, 10*time.Second, "the instance to print its banner", func() bool {
		return strings.Contains(m.insts[0].out.String(), "listening")
	})

	res, err := m.Restart(testContext(t))
	if !errors.Is(err, ErrUnhealthy) {
		t.Fatalf("Restart() = %v, want ErrUnhealthy", err)
	}
	for _, want := range []string{
		fmt.Sprintf("GET http://127.0.0.1:%d/healthz", cfg.BasePort),
		"status 500 Internal Server Error",
		"model not loaded",
		"output tail:\n",
		"healthsrv pid " + strconv.Itoa(m.Status()[0].PID),
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Restart() error %q does not contain %q", err, want)
		}
	}
	if res.Fields["new_pids"] != strconv.Itoa(m.Status()[0].PID) || res.Fields["old_pids"] == "" {
		t.Errorf("Restart() Fields = %v, want the old and new pid", res.Fields)
	}
}

func TestProcessManagerRestartsCrashedInstance(t *testing.T) {
	cfg := testConfig(t, 1, "-exit-after=100ms", "-exit-code=3")
	cfg.RestartBackoff = 100 * time.Millisecond
	start := time.Now()
	m, _ := runManager(t, cfg)
	seen := map[int]bool{}
	eventually(t, 20*time.Second, "two restarts after crashes", func() bool {
		in := m.Status()[0]
		if in.PID != 0 {
			seen[in.PID] = true
		}
		return in.Restarts >= 2 && in.LastExit == "exit status 3"
	})
	// Two crashes wait 100ms then 200ms before their restarts; each process lives 100ms.
	if elapsed := time.Since(start); elapsed < 500*time.Millisecond {
		t.Errorf("two crash restarts took %s, want at least 500ms of backoff and run time", elapsed)
	}
	if len(seen) < 2 {
		t.Errorf("saw pids %v, want a new process per restart", seen)
	}
	if got := m.insts[0].out.String(); !strings.Contains(got, "exiting with 3") {
		t.Errorf("output tail %q does not hold the crash message", got)
	}
}

func TestProcessManagerRestartsUnstartableCommand(t *testing.T) {
	cfg := testConfig(t, 1)
	cfg.Command = []string{t.TempDir() + "/missing"}
	m, _ := runManager(t, cfg)
	eventually(t, 10*time.Second, "a failed start", func() bool {
		return strings.HasPrefix(m.Status()[0].LastExit, "start failed: ")
	})
	if in := m.Status()[0]; in.State != StateExited || in.PID != 0 {
		t.Errorf("Status()[0] = %+v, want exited without pid", in)
	}
	_, err := m.Restart(testContext(t))
	if err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("Restart() = %v, want the start error", err)
	}
}

func TestProcessManagerScale(t *testing.T) {
	cfg := testConfig(t, 4)
	m, _ := runManager(t, cfg)
	ctx := testContext(t)
	first := waitHealthy(t, m)[0]

	res, err := m.Scale(ctx, 3)
	if err != nil {
		t.Fatalf("Scale(3) = %v", err)
	}
	wantPorts := fmt.Sprintf("%d,%d,%d", cfg.BasePort, cfg.BasePort+1, cfg.BasePort+2)
	if res.Fields["ports"] != wantPorts || res.Fields["instances"] != "3" || res.Fields["previous"] != "1" {
		t.Errorf("Scale(3) Fields = %v, want ports %s", res.Fields, wantPorts)
	}
	status := m.Status()
	if len(status) != 3 || status[0].PID != first {
		t.Fatalf("Status() after Scale(3) = %+v, want 3 instances keeping pid %d", status, first)
	}
	for i, in := range status {
		if in.Port != cfg.BasePort+i || in.State != StateRunning || !alive(in.PID) {
			t.Errorf("Status()[%d] = %+v", i, in)
		}
		if si := info(t, in.Port); si.PID != in.PID || si.Instance != strconv.Itoa(i) {
			t.Errorf("port %d is served by %+v, want pid %d instance %d", in.Port, si, in.PID, i)
		}
	}

	res, err = m.Scale(ctx, 1)
	if err != nil {
		t.Fatalf("Scale(1) = %v", err)
	}
	if want := fmt.Sprintf("%d,%d", status[2].PID, status[1].PID); res.Fields["stopped_pids"] != want {
		t.Errorf("Scale(1) stopped_pids = %q, want %q (highest index first)", res.Fields["stopped_pids"], want)
	}
	if got := m.Status(); len(got) != 1 || got[0].PID != first {
		t.Errorf("Status() after Scale(1) = %+v, want instance 0 with pid %d", got, first)
	}
	for _, in := range status[1:] {
		if alive(in.PID) {
			t.Errorf("pid %d of instance %d still alive after Scale(1)", in.PID, in.Index)
		}
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", in.Port)); err == nil {
			c.Close()
			t.Errorf("port %d still accepts after Scale(1)", in.Port)
		}
	}

	for _, n := range []int{-1, 5} {
		if _, err := m.Scale(ctx, n); !errors.Is(err, ErrInvalidScale) {
			t.Errorf("Scale(%d) = %v, want ErrInvalidScale", n, err)
		}
	}

	if _, err := m.Scale(ctx, 0); err != nil {
		t.Fatalf("Scale(0) = %v", err)
	}
	if got := m.Status(); len(got) != 0 || alive(first) {
		t.Errorf("after Scale(0): Status() = %+v, pid %d alive %t", got, first, alive(first))
	}
	if res, err := m.Restart(ctx); err != nil || res.Detail != "no instances to restart" {
		t.Errorf("Restart() with no instances = %+v, %v", res, err)
	}
	if _, err := m.Scale(ctx, 1); err != nil {
		t.Fatalf("Scale(1) from 0 = %v", err)
	}
	if got := m.Status(); len(got) != 1 || got[0].Port != cfg.BasePort || got[0].State != StateRunning {
		t.Errorf("Status() after Scale(1) from 0 = %+v", got)
	}
}

func TestProcessManagerScaleUnhealthy(t *testing.T) {
	cfg := testConfig(t, 2, "-unhealthy")
	cfg.Health = HealthCheck{URL: "http://127.0.0.1:{port}/healthz", Timeout: 300 * time.Millisecond}
	m, _ := runManager(t, cfg)
	_, err := m.Scale(testContext(t), 2)
	if !errors.Is(err, ErrUnhealthy) || !strings.Contains(err.Error(), fmt.Sprintf("scale instance 1 (pid %d, port %d)", m.Status()[1].PID, cfg.BasePort+1)) {
		t.Fatalf("Scale(2) = %v, want ErrUnhealthy naming instance 1", err)
	}
}

var childPID = regexp.MustCompile(`child pid (\d+)`)

func TestProcessManagerKillsAfterGrace(t *testing.T) {
	cfg := testConfig(t, 1, "-ignore-term", "-child")
	cfg.StopGrace = 300 * time.Millisecond
	m, stop := runManager(t, cfg)
	pid := waitHealthy(t, m)[0]
	match := childPID.FindStringSubmatch(m.insts[0].out.String())
	if match == nil {
		t.Fatalf("no child pid in output %q", m.insts[0].out.String())
	}
	child, _ := strconv.Atoi(match[1])
	if !alive(child) {
		t.Fatalf("child %d is not running", child)
	}

	start := time.Now()
	if err := stop(); err != nil {
		t.Fatalf("Run() = %v, want nil", err)
	}
	if elapsed := time.Since(start); elapsed < cfg.StopGrace {
		t.Errorf("Run returned %s after cancel, before the %s grace", elapsed, cfg.StopGrace)
	}
	if in := m.Status()[0]; in.LastExit != "signal: killed" {
		t.Errorf("LastExit = %q, want signal: killed", in.LastExit)
	}
	// The child is reaped by init, not by us, so give that a moment.
	eventually(t, 5*time.Second, "the leader and its child to be gone", func() bool {
		return !alive(pid) && !alive(child)
	})
}

func TestProcessManagerNotRunning(t *testing.T) {
	cfg := testConfig(t, 1)
	m, err := NewProcessManager(cfg, slog.New(slog.NewTextHandler(t.Output(), nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx := testContext(t)
	if in := m.Status(); len(in) != 1 || in[0].State != StateStopped || in[0].Port != cfg.BasePort {
		t.Errorf("Status() before Run = %+v, want one stopped instance", in)
	}
	if _, err := m.Restart(ctx); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Restart() before Run = %v, want ErrNotRunning", err)
	}
	if _, err := m.Scale(ctx, 1); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Scale() before Run = %v, want ErrNotRunning", err)
	}

	runCtx, cancel := context.WithCancel(ctx)
	cancel()
	if err := m.Run(runCtx); err != nil {
		t.Fatalf("Run() with an ended ctx = %v", err)
	}
	if err := m.Run(ctx); err == nil {
		t.Error("second Run() = nil, want an error")
	}
	if _, err := m.Restart(ctx); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Restart() after Run = %v, want ErrNotRunning", err)
	}
}
