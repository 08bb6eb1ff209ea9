package service

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func TestHealthCheckValidate(t *testing.T) {
	tests := []struct {
		name    string
		h       HealthCheck
		wantErr string
	}{
		{"url", HealthCheck{URL: "http://127.0.0.1:{port}/healthz"}, ""},
		{"https url", HealthCheck{URL: "https://localhost:8443/health", Timeout: time.Second, Interval: time.Millisecond}, ""},
		{"tcp", HealthCheck{TCP: "127.0.0.1:{port}"}, ""},
		{"tcp fixed port", HealthCheck{TCP: "localhost:8000"}, ""},
		{"neither", HealthCheck{}, "needs a URL or a TCP address"},
		{"both", HealthCheck{URL: "http://127.0.0.1:1/", TCP: "127.0.0.1:1"}, "set only one"},
		{"bad scheme", HealthCheck{URL: "ftp://127.0.0.1:{port}/"}, "must be http or https"},
		{"no host", HealthCheck{URL: "http:///healthz"}, "has no host"},
		{"unparsable url", HealthCheck{URL: "http://[::1/"}, "health check URL"},
		{"tcp without port", HealthCheck{TCP: "127.0.0.1"}, "must be host:port"},
		{"tcp without host", HealthCheck{TCP: ":{port}"}, "must be host:port"},
		{"tcp port out of range", HealthCheck{TCP: "127.0.0.1:70000"}, "must be host:port"},
		{"negative timeout", HealthCheck{TCP: "127.0.0.1:1", Timeout: -time.Second}, "timeout -1s must not be negative"},
		{"negative interval", HealthCheck{TCP: "127.0.0.1:1", Interval: -time.Second}, "interval -1s must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.h.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate() = %v, want ErrInvalidConfig containing %q", err, tt.wantErr)
			}
		})
	}
}

// closedPort returns a loopback port nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	// A socket bound to the port but not listening refuses every connect, and holds the port for
	// the test: a port merely closed again can be taken meanwhile by another test's listener, one
	// with a full backlog leaving the connect to time out.
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return sa.(*syscall.SockaddrInet4).Port
}

func TestHealthCheckWait(t *testing.T) {
	status := func(code int) *httptest.Server {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/healthz" {
				http.NotFound(w, r)
				return
			}
			w.WriteHeader(code)
			fmt.Fprintln(w, http.StatusText(code))
		}))
		t.Cleanup(srv.Close)
		return srv
	}
	portOf := func(srv *httptest.Server) int {
		return srv.Listener.Addr().(*net.TCPAddr).Port
	}
	ok, noContent, failing := status(http.StatusOK), status(http.StatusNoContent), status(http.StatusInternalServerError)
	closed := closedPort(t)
	const url = "http://127.0.0.1:{port}/healthz"
	tests := []struct {
		name    string
		h       HealthCheck
		port    int
		wantErr []string // empty: Wait passes
	}{
		{"200 passes", HealthCheck{URL: url}, portOf(ok), nil},
		{"204 passes", HealthCheck{URL: url}, portOf(noContent), nil},
		{"fixed url ignores port", HealthCheck{URL: ok.URL + "/healthz"}, 1, nil},
		{"500 fails", HealthCheck{URL: url}, portOf(failing),
			[]string{fmt.Sprintf("GET http://127.0.0.1:%d/healthz", portOf(failing)), "status 500 Internal Server Error", "Internal Server Error"}},
		{"404 fails", HealthCheck{URL: "http://127.0.0.1:{port}/nope"}, portOf(ok), []string{"status 404"}},
		{"closed port fails over http", HealthCheck{URL: url}, closed,
			[]string{fmt.Sprintf("GET http://127.0.0.1:%d/healthz", closed), "connection refused"}},
		{"tcp passes", HealthCheck{TCP: "127.0.0.1:{port}"}, portOf(ok), nil},
		{"closed port fails over tcp", HealthCheck{TCP: "127.0.0.1:{port}"}, closed,
			[]string{"TCP connect to 127.0.0.1:" + strconv.Itoa(closed), "connection refused"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A closed port's first connect can take over a second on a loaded machine (CI runs
			// packages side by side): those cases wait 3 s, so the last probe is one that ended.
			tt.h.Timeout, tt.h.Interval = time.Second, 20*time.Millisecond
			if tt.port == closed {
				tt.h.Timeout = 3 * time.Second
			}
			start := time.Now()
			err := tt.h.Wait(testContext(t), tt.port)
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("Wait() = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrUnhealthy) {
				t.Fatalf("Wait() = %v, want ErrUnhealthy", err)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Wait() = %q, want it to contain %q", err, want)
				}
			}
			if elapsed := time.Since(start); elapsed < tt.h.Timeout {
				t.Errorf("Wait gave up after %s, before its timeout %s", elapsed, tt.h.Timeout)
			}
		})
	}
}

func TestHealthCheckWaitRecovers(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) < 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	h := HealthCheck{URL: srv.URL, Timeout: 5 * time.Second, Interval: 10 * time.Millisecond}
	if err := h.Wait(testContext(t), 0); err != nil {
		t.Fatalf("Wait() = %v, want nil after two failing probes", err)
	}
	if n := calls.Load(); n != 3 {
		t.Errorf("probes = %d, want 3", n)
	}
}

func TestHealthCheckWaitCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(100*time.Millisecond, cancel)
	h := HealthCheck{TCP: "127.0.0.1:{port}", Timeout: time.Minute, Interval: 10 * time.Millisecond}
	err := h.Wait(ctx, closedPort(t))
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrUnhealthy) || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("Wait() = %v, want context.Canceled with the last probe", err)
	}
}

func TestHealthCheckWaitInvalid(t *testing.T) {
	if err := (HealthCheck{}).Wait(testContext(t), 1); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("Wait() on the zero HealthCheck = %v, want ErrInvalidConfig", err)
	}
}
