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

	"github.com/dspyfleet/dspyfleet/agent"
	"github.com/dspyfleet/dspyfleet/agent/proxy"
	"github.com/dspyfleet/dspyfleet/internal/fleettest"
	"github.com/dspyfleet/dspyfleet/internal/tracing"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// startTracing exports spans of service to the receiver, flushed quickly, until the test ends.
func startTracing(t *testing.T, r *fleettest.OTLPReceiver, service string) *tracing.Provider {
	t.Helper()
	p, err := tracing.New(context.Background(), tracing.Config{Endpoint: r.Addr, Service: service, BatchTimeout: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Shutdown(context.Background()); err != nil {
			t.Errorf("tracing shutdown: %v", err)
		}
	})
	return p
}

// TestCommandTraceAcrossTheStream: with both daemons exporting to a real OTLP receiver, a
// command's spans (the SendCommand RPC, queued, delivered on the control plane, executed on
// the agent) share one trace, and a request through the sidecar proxy continues the client's
// trace and hands it on to the DSPy server as traceparent.
func TestCommandTraceAcrossTheStream(t *testing.T) {
	recv := fleettest.StartOTLPReceiver(t)
	cpTrace := startTracing(t, recv, "dspyfleet-controlplane")
	agentTrace := startTracing(t, recv, "dspyfleet-agent")

	var mu sync.Mutex
	var upstreamParent string
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		upstreamParent = r.Header.Get("traceparent")
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"answer": "42", "model": "openai/gpt-4o-mini", "usage": {"prompt_tokens": 100, "completion_tokens": 20}}`)
	}))
	t.Cleanup(upstream.Close)

	cfg := fleettest.FastConfig(t)
	cfg.TracerProvider = cpTrace
	cp := fleettest.StartControlPlane(t, cfg)
	c := cp.Fleet(t)
	a := startAgentWith(t, cp.GRPCAddr(), "traced", func(cfg *agent.Config) {
		cfg.TracerProvider = agentTrace
		cfg.Proxy = proxy.Config{Listen: "127.0.0.1:0", Upstream: upstream.Listener.Addr().String()}
	})
	waitState(t, c, "traced", ready, 10*time.Second)

	sent, err := c.SendCommand(context.Background(), &fleetv1.SendCommandRequest{NodeId: "traced", Kind: fleetv1.CommandKind_COMMAND_KIND_UNDRAIN, Reason: "trace test"})
	if err != nil {
		t.Fatal(err)
	}
	id := sent.GetCommand().GetCommand().GetId()
	if tp := sent.GetCommand().GetCommand().GetTraceparent(); tp == "" {
		t.Fatal("the stored command carries no traceparent")
	}
	fleettest.Eventually(t, 10*time.Second, "the command to succeed", func() bool {
		got, err := c.GetCommand(context.Background(), &fleetv1.GetCommandRequest{Id: id})
		return err == nil && got.GetCommand().GetState() == fleetv1.CommandState_COMMAND_STATE_SUCCEEDED
	})

	// A client's trace through the sidecar proxy.
	const clientTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	req, _ := http.NewRequest(http.MethodPost, "http://"+a.ProxyAddr()+"/predict", strings.NewReader(`{"question": "?"}`))
	req.Header.Set("traceparent", "00-"+clientTrace+"-00f067aa0ba902b7-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	mu.Lock()
	got := upstreamParent
	mu.Unlock()
	if !strings.HasPrefix(got, "00-"+clientTrace+"-") || strings.Contains(got, "00f067aa0ba902b7") {
		t.Fatalf("the DSPy server got traceparent %q, want the client's trace with the proxy's span as parent", got)
	}

	byName := func(spans []fleettest.Span, service, name string) (fleettest.Span, bool) {
		for _, s := range spans {
			if s.Service == service && s.Name == name && (s.Attributes["dspyfleet.command.id"] == id || !strings.HasPrefix(name, "command.")) {
				return s, true
			}
		}
		return fleettest.Span{}, false
	}
	var rpc, queued, delivered, executed, proxied fleettest.Span
	fleettest.Eventually(t, 10*time.Second, "the command's and the request's spans at the receiver", func() bool {
		_ = cpTrace.Flush(context.Background())
		_ = agentTrace.Flush(context.Background())
		spans := recv.Spans()
		var ok [5]bool
		rpc, ok[0] = byName(spans, "dspyfleet-controlplane", "dspyfleet.v1.FleetService/SendCommand")
		queued, ok[1] = byName(spans, "dspyfleet-controlplane", "command.queued")
		delivered, ok[2] = byName(spans, "dspyfleet-controlplane", "command.delivered")
		executed, ok[3] = byName(spans, "dspyfleet-agent", "command.execute")
		proxied, ok[4] = byName(spans, "dspyfleet-agent", "proxy POST")
		return ok == [5]bool{true, true, true, true, true}
	})
	for _, s := range []fleettest.Span{queued, delivered, executed} {
		if s.TraceID != rpc.TraceID {
			t.Errorf("span %s (%s) is in trace %s, the SendCommand RPC in %s", s.Name, s.Service, s.TraceID, rpc.TraceID)
		}
	}
	if queued.Parent != rpc.SpanID || delivered.Parent != queued.SpanID || executed.Parent != queued.SpanID {
		t.Errorf("parents: queued %s (want the RPC %s), delivered %s and executed %s (want queued %s)",
			queued.Parent, rpc.SpanID, delivered.Parent, executed.Parent, queued.SpanID)
	}
	if proxied.TraceID != clientTrace || proxied.Parent != "00f067aa0ba902b7" || !strings.Contains(proxied.Attributes["dspy.input_tokens"], "100") {
		t.Errorf("proxy span %+v: want the client's trace and parent, with token attributes", proxied)
	}
	if !strings.Contains(got, proxied.SpanID) {
		t.Errorf("the DSPy server's parent %q is not the proxy span %s", got, proxied.SpanID)
	}
}
