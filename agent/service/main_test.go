package service

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/dspyfleet/dspyfleet/internal/fleettest"
)

// healthsrv is the path of the test server built from testdata/healthsrv.
var healthsrv string

// hookrun is the path of the hook runner built from testdata/hookrun.
var hookrun string

// TestMain builds the test server once and fails the package if goroutines outlive its tests.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "healthsrv")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	healthsrv = filepath.Join(dir, "healthsrv")
	if out, err := exec.Command("go", "build", "-o", healthsrv, "./testdata/healthsrv").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build testdata/healthsrv: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	hookrun = filepath.Join(dir, "hookrun")
	if out, err := exec.Command("go", "build", "-o", hookrun, "./testdata/hookrun").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build testdata/hookrun: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "leaked goroutines:", err)
			code = 1
		}
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// freePorts returns a base port such that base..base+n-1 are free on 127.0.0.1.
func freePorts(t *testing.T, n int) int {
	t.Helper()
	return fleettest.FreePortRange(t, n)
}

// alive reports whether pid is a live (not zombie) process.
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return !os.IsNotExist(err)
	}
	i := bytes.LastIndexByte(stat, ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] != 'Z'
}

// eventually fails t unless cond holds within timeout. The conditions are the state of real
// processes (running, exited, reaped by init), which send no event to wait on, so cond is
// checked every 10ms; timeout only bounds a failure.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline.C:
			if cond() {
				return
			}
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
	}
}

// testContext returns a context that ends with the test or after a minute.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}
