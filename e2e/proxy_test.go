package e2e

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/dspyfleet/dspyfleet/agent"
	"github.com/dspyfleet/dspyfleet/agent/proxy"
	"github.com/dspyfleet/dspyfleet/internal/fleettest"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// TestDrainThroughSidecarProxy: an agent in sidecar mode measures requests to a real upstream,
// and a drain makes the proxy refuse new requests with 503 while a slow request in flight
// finishes; the node turns drained only after it did.
func TestDrainThroughSidecarProxy(t *testing.T) {
	release := make(chan struct{})
	var releaseOnce sync.Once
	unblock := func() { releaseOnce.Do(func() { close(release) }) }
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/slow" {
			<-release
		}
		_, _ = io.WriteString(w, `{"answer": "42", "model": "openai/gpt-4o-mini", "usage": {"prompt_tokens": 100, "completion_tokens": 20}}`)
	}))
	t.Cleanup(func() {
		unblock() // a failed check must not leave the slow handler blocking Close
		upstream.Close()
	})
	cp := fleettest.StartControlPlane(t, fleettest.FastConfig(t))
	c := cp.Fleet(t)
	a := startAgentWith(t, cp.GRPCAddr(), "sidecar", func(cfg *agent.Config) {
		cfg.Proxy = proxy.Config{Listen: "127.0.0.1:0", Upstream: upstream.Listener.Addr().String(), RetryAfter: 2 * time.Second}
	})
	waitState(t, c, "sidecar", ready, 10*time.Second)
	base := "http://" + a.ProxyAddr()
	for range 3 {
		resp, err := http.Get(base + "/predict")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("proxied request: %d", resp.StatusCode)
		}
	}

	slow := make(chan int, 1)
	go func() {
		resp, err := http.Get(base + "/slow")
		if err != nil {
			slow <- 0
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		slow <- resp.StatusCode
	}()
	fleettest.Eventually(t, 5*time.Second, "the slow request in flight", func() bool { return a.Requests().InFlight() == 1 })
	dr, err := c.DrainNode(context.Background(), &fleetv1.DrainNodeRequest{Id: "sidecar", Timeout: durationpb.New(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	fleettest.Eventually(t, 5*time.Second, "the agent draining", a.Draining)
	resp, err := http.Get(base + "/predict")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "2" {
		t.Fatalf("new request while draining: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	holdsWhileInFlight(t, c, "sidecar", dr.GetCommand().GetCommand().GetId())
	unblock()
	if code := <-slow; code != http.StatusOK {
		t.Fatalf("the in-flight request ended with %d, want 200", code)
	}
	waitCommand(t, c, dr.GetCommand().GetCommand().GetId(), succeeded, 10*time.Second)
	waitState(t, c, "sidecar", drained, 5*time.Second)

	fleettest.Eventually(t, 10*time.Second, "the proxied requests in the pool's figures", func() bool {
		st, err := c.GetPoolStats(context.Background(), &fleetv1.GetPoolStatsRequest{Pool: "web"})
		return err == nil && st.GetPool().GetRequests() == 4 && st.GetPool().GetInputTokens() == 400 &&
			len(st.GetPool().GetModels()) == 1 && st.GetPool().GetModels()[0].GetName() == "openai/gpt-4o-mini"
	})
}

// TestQueueLengthReachesTheControlPlane: queue_length was accepted by scaling and rules but
// nothing produced it. The sidecar's queue (requests waiting for an upstream slot) and the
// service's own queue reported to the intake reach the node's report.
func TestQueueLengthReachesTheControlPlane(t *testing.T) {
	release := make(chan struct{})
	var releaseOnce sync.Once
	unblock := func() { releaseOnce.Do(func() { close(release) }) }
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		_, _ = io.WriteString(w, `{"answer": "42"}`)
	}))
	t.Cleanup(func() {
		unblock()
		upstream.Close()
	})
	cp := fleettest.StartControlPlane(t, fleettest.FastConfig(t))
	c := cp.Fleet(t)
	a := startAgentWith(t, cp.GRPCAddr(), "queued", func(cfg *agent.Config) {
		cfg.Intake.Listen = "127.0.0.1:0"
		cfg.Proxy = proxy.Config{Listen: "127.0.0.1:0", Upstream: upstream.Listener.Addr().String(), MaxConcurrency: 1}
	})
	waitState(t, c, "queued", ready, 10*time.Second)
	queueOf := func() uint32 {
		n, err := c.GetNode(context.Background(), &fleetv1.GetNodeRequest{Id: "queued"})
		if err != nil {
			t.Fatal(err)
		}
		return n.GetNode().GetLastReport().GetApp().GetQueueLength()
	}
	done := make(chan int, 3)
	for range 3 {
		go func() {
			resp, err := http.Get("http://" + a.ProxyAddr() + "/predict")
			if err != nil {
				done <- 0
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			done <- resp.StatusCode
		}()
	}
	fleettest.Eventually(t, 10*time.Second, "queue_length 2 (3 requests, 1 upstream slot)", func() bool { return queueOf() == 2 })

	resp, err := http.Post("http://"+a.IntakeAddr()+"/v1/requests", "application/json",
		strings.NewReader(`{"latency_ms": 12, "queue_length": 5}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("intake answered %d", resp.StatusCode)
	}
	fleettest.Eventually(t, 10*time.Second, "queue_length 7 (2 in the sidecar, 5 reported by the service)", func() bool { return queueOf() == 7 })
	unblock()
	for range 3 {
		if code := <-done; code != http.StatusOK {
			t.Errorf("a queued request got %d", code)
		}
	}
	fleettest.Eventually(t, 10*time.Second, "queue_length back to 0", func() bool { return queueOf() == 0 })
}
