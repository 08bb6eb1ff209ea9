package intake

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dspyfleet/dspyfleet/pkg/reqstats"
)

// client is an HTTP client whose connections close when the test ends.
func client(t *testing.T, dial func(ctx context.Context, network, addr string) (net.Conn, error)) *http.Client {
	tr := &http.Transport{DialContext: dial}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// send posts body to url and returns the status and reply.
func send(t *testing.T, c *http.Client, url, contentType, body string) (*http.Response, string) {
	t.Helper()
	res, err := c.Post(url, contentType, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	return res, readAll(t, res.Body)
}

func TestRunOverTCP(t *testing.T) {
	sink := &recordingSink{}
	in := newIntake(t, Config{}, sink)
	start(t, in)
	c := client(t, nil)
	url := "http://" + in.Addr() + "/v1/requests"
	res, reply := send(t, c, url, "application/x-ndjson", "{\"latency_ms\":1}\n{\"latency_ms\":2}\n")
	if res.StatusCode != http.StatusOK || reply != `{"accepted":2,"rejected":[]}`+"\n" {
		t.Fatalf("status %d: %s", res.StatusCode, reply)
	}
	sink.waitLen(t, 2, "two events")
	res, _ = send(t, c, "http://"+in.Addr()+"/healthz", "", "")
	if res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /healthz: status %d", res.StatusCode)
	}
	hres, err := c.Get("http://" + in.Addr() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	hres.Body.Close()
	if hres.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz: status %d", hres.StatusCode)
	}
}

func TestRunTwice(t *testing.T) {
	in := newIntake(t, Config{}, &recordingSink{})
	start(t, in)
	if err := in.Run(context.Background()); err == nil {
		t.Error("second Run = nil error")
	}
}

func TestRunFailsToListen(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	in := newIntake(t, Config{Listen: ln.Addr().String()}, &recordingSink{})
	if err := in.Run(context.Background()); err == nil {
		t.Fatal("Run on a taken port = nil error")
	}
	if addr := in.Addr(); addr != "" {
		t.Errorf("Addr after a failed Run = %q", addr)
	}
}

// blockingSink says when the first event arrives and holds it until released.
type blockingSink struct {
	recordingSink
	first            sync.Once
	entered, release chan struct{}
}

func newBlockingSink() *blockingSink {
	return &blockingSink{entered: make(chan struct{}), release: make(chan struct{})}
}

func (s *blockingSink) Add(e reqstats.Event) {
	s.first.Do(func() {
		close(s.entered)
		<-s.release
	})
	s.recordingSink.Add(e)
}

func TestQueueFull(t *testing.T) {
	sink := newBlockingSink()
	in := newIntake(t, Config{QueueSize: 10}, sink)
	start(t, in)
	c := client(t, nil)
	url := "http://" + in.Addr() + "/v1/requests"
	lines := func(n int) string { return strings.Repeat("{\"latency_ms\":1}\n", n) }

	// The drainer takes the first five and blocks in the sink; they still count against the queue.
	if res, reply := send(t, c, url, "", lines(5)); res.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", res.StatusCode, reply)
	}
	<-sink.entered
	if res, reply := send(t, c, url, "", lines(5)); res.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", res.StatusCode, reply)
	}
	// A batch is taken whole or not at all: three good lines and a bad one, with room for none.
	res, reply := send(t, c, url, "", lines(3)+`{"latency_ms":-1}`)
	if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") != "1" || !strings.Contains(reply, "3 requests dropped") {
		t.Fatalf("status %d, Retry-After %q: %s", res.StatusCode, res.Header.Get("Retry-After"), reply)
	}
	if in.Dropped() != 3 {
		t.Errorf("Dropped = %d, want 3", in.Dropped())
	}
	// A batch that could never fit is too large, not dropped.
	res, reply = send(t, c, url, "", lines(11))
	if res.StatusCode != http.StatusRequestEntityTooLarge || in.Dropped() != 3 {
		t.Errorf("status %d, dropped %d: %s", res.StatusCode, in.Dropped(), reply)
	}
	close(sink.release)
	sink.waitLen(t, 10, "ten events")
	if res, reply := send(t, c, url, "", lines(10)); res.StatusCode != http.StatusOK {
		t.Errorf("after draining: status %d: %s", res.StatusCode, reply)
	}
}

func TestShutdownDeliversQueuedEvents(t *testing.T) {
	sink := newBlockingSink()
	in := newIntake(t, Config{}, sink)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- in.Run(ctx) }()
	c := client(t, nil)
	url := "http://" + in.Addr() + "/v1/requests"
	send(t, c, url, "", `{"latency_ms":1}`)
	<-sink.entered
	for range 3 {
		send(t, c, url, "", "{\"latency_ms\":2}\n{\"latency_ms\":3}")
	}
	cancel()
	close(sink.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := len(sink.all()); n != 7 {
		t.Errorf("sink has %d events after Run returned, want 7", n)
	}
}

func TestUnixSocket(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "intake.sock")

	// A stale socket from a dead agent is replaced.
	stale, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	stale.Close()

	sink := &recordingSink{}
	in := newIntake(t, Config{Socket: path}, sink)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- in.Run(ctx) }()
	if addr := in.Addr(); addr != "" {
		t.Errorf("Addr without TCP = %q", addr)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o660 {
		t.Errorf("socket mode %s, want a socket with 0660", fi.Mode())
	}

	// A second intake on the same path refuses to steal a live socket.
	other := newIntake(t, Config{Socket: path}, &recordingSink{})
	if err := other.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("second intake on a live socket: %v", err)
	}

	c := client(t, func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", path)
	})
	res, reply := send(t, c, "http://intake/v1/requests", "", `{"latency_ms":4,"program":"sock"}`)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", res.StatusCode, reply)
	}
	sink.waitLen(t, 1, "the event")
	if e := sink.all()[0]; e.Program != "sock" || e.Latency != 4*time.Millisecond {
		t.Errorf("event %+v", e)
	}
	c.Transport.(*http.Transport).CloseIdleConnections()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Errorf("socket file after Run: %v", err)
	}
}

func TestSocketPathTaken(t *testing.T) {
	path := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	in := newIntake(t, Config{Listen: "127.0.0.1:0", Socket: path}, &recordingSink{})
	err := in.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("Run over a regular file: %v", err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("the file is gone: %v", err)
	}
}

// Example of the reply format, for the package documentation.
func ExampleReply() {
	in, _ := New(Config{Listen: DefaultListen}, &recordingSink{}, quiet)
	rec := post(in, "application/x-ndjson", "{\"latency_ms\":12}\n{\"latency_ms\":-1,\"colour\":\"red\"}\n")
	fmt.Print(rec.Code, " ", rec.Body)
	// Output:
	// 200 {"accepted":1,"rejected":[{"line":2,"errors":[{"field":"colour","message":"unknown field"},{"field":"latency_ms","message":"-1 is negative"}]}]}
}
