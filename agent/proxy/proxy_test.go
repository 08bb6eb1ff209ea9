package proxy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dspyfleet/dspyfleet/internal/fleettest"
	"github.com/dspyfleet/dspyfleet/pkg/reqstats"
)

// TestLatencyAndErrorsMatchTheUpstream sends requests from several clients at once; the
// upstream takes a different time over each (it advances the proxy's clock) and fails every
// fifth. Each event must carry its own request's outcome and at least its upstream time.
func TestLatencyAndErrorsMatchTheUpstream(t *testing.T) {
	const n, workers = 60, 6
	rng := rand.New(rand.NewPCG(7, 11))
	delays := make([]time.Duration, n)
	for i := range delays {
		delays[i] = time.Duration(1+rng.IntN(20_000)) * time.Microsecond
	}
	// Request i belongs to round i/workers, one request per worker. A round's requests meet at
	// the upstream before any is answered, so the proxy always has workers requests in flight.
	var mu sync.Mutex
	arrived := make([]int, n/workers)
	full := make([]chan struct{}, n/workers)
	for k := range full {
		full[k] = make(chan struct{})
	}
	clock := newFakeClock()
	up := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		i, _ := strconv.Atoi(r.URL.Query().Get("i"))
		k := i / workers
		mu.Lock()
		if arrived[k]++; arrived[k] == workers {
			close(full[k])
		}
		mu.Unlock()
		select {
		case <-full[k]:
		case <-r.Context().Done():
			return
		}
		clock.Advance(delays[i])
		w.Header().Set("X-DSPy-Program", strconv.Itoa(i))
		if i%5 == 4 {
			http.Error(w, "boom", http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "ok %d", i)
	})
	p := startProxy(t, Config{Now: clock.Now}, up.Listener.Addr().String())

	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				res, body := get(t, p.client, fmt.Sprintf("%s/predict?i=%d", p.url, i))
				if want := i%5 == 4; (res.StatusCode == 500) != want || !want && body != fmt.Sprintf("ok %d", i) {
					t.Errorf("request %d: status %d, body %q", i, res.StatusCode, body)
				}
			}
		})
	}
	wg.Wait()

	events := p.sink.wait(t, n)
	seen := make(map[int]bool)
	errs := 0
	for _, e := range events {
		i, err := strconv.Atoi(e.Program)
		if err != nil || seen[i] {
			t.Fatalf("event %+v: program is not a new request number", e)
		}
		seen[i] = true
		if e.Error {
			errs++
		}
		if wantErr := i%5 == 4; e.Error != wantErr || e.Status != map[bool]int{true: 500, false: 200}[wantErr] {
			t.Errorf("request %d: error %t, status %d", i, e.Error, e.Status)
		}
		if e.Latency < delays[i] {
			t.Errorf("request %d: latency %s, less than the upstream's time %s", i, e.Latency, delays[i])
		}
		if errs := e.Check(clock.Now(), 0); errs != nil {
			t.Errorf("request %d: %v", i, errs)
		}
	}
	if len(events) != n || errs != n/5 {
		t.Errorf("%d events, %d errors; want %d and %d", len(events), errs, n, n/5)
	}
	if s := p.Stats(); s.Requests != n || s.Errors != n/5 || s.Rejected != 0 {
		t.Errorf("stats %+v", s)
	}
	if p.tracker.n.Load() != 0 {
		t.Errorf("in flight after all finished: %d", p.tracker.n.Load())
	}
}

func TestUsageFromHeaders(t *testing.T) {
	up := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-DSPy-Input-Tokens", "120")
		h.Set("X-DSPy-Output-Tokens", "34")
		h.Set("X-DSPy-Model", "openai/gpt-4o-mini")
		h.Set("X-DSPy-Program", "qa")
		h.Set("X-DSPy-Module", "answer")
		h.Set("X-DSPy-Cache", "HIT")
		h.Set("Content-Type", "application/json")
		// The headers win over the body.
		io.WriteString(w, `{"model":"other","usage":{"prompt_tokens":1,"completion_tokens":2}}`)
	})
	p := startProxy(t, Config{}, up.URL)
	get(t, p.client, p.url+"/")
	e := p.sink.wait(t, 1)[0]
	if e.InputTokens != 120 || e.OutputTokens != 34 || e.Model != "openai/gpt-4o-mini" ||
		e.Program != "qa" || e.Module != "answer" || e.Cache != reqstats.CacheHit || e.Error || e.Status != 200 {
		t.Errorf("event %+v", e)
	}
}

func TestUsageFromConfiguredHeadersAndTrailers(t *testing.T) {
	up := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "Llm-Out, Llm-Cache")
		w.Header().Set("Llm-In", "5")
		w.Header().Set("Llm-Model", strings.Repeat("m", 200)) // refused by Check: dropped, not the event
		w.Header().Set("X-DSPy-Input-Tokens", "999")
		io.WriteString(w, "streamed text")
		w.(http.Flusher).Flush()
		w.Header().Set("Llm-Out", "6")
		w.Header().Set("Llm-Cache", "miss")
	})
	p := startProxy(t, Config{
		InputTokensHeader: "Llm-In", OutputTokensHeader: "Llm-Out", ModelHeader: "Llm-Model", CacheHeader: "Llm-Cache",
	}, up.URL)
	res, body := get(t, p.client, p.url+"/")
	if body != "streamed text" || res.Trailer.Get("Llm-Out") != "6" {
		t.Errorf("body %q, trailer %v", body, res.Trailer)
	}
	e := p.sink.wait(t, 1)[0]
	if e.InputTokens != 5 || e.OutputTokens != 6 || e.Cache != reqstats.CacheMiss || e.Model != "" {
		t.Errorf("event %+v", e)
	}
}

func TestUsageFromJSONBody(t *testing.T) {
	body := `{"id":"chatcmpl-9","object":"chat.completion","model":"gpt-4o-mini",` +
		`"choices":[{"message":{"role":"assistant","content":"` + strings.Repeat("token ", 5000) + `"}}],` +
		`"usage":{"prompt_tokens":1234,"completion_tokens":5000}}`
	up := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		io.WriteString(w, body)
	})
	p := startProxy(t, Config{}, up.URL)
	if _, got := get(t, p.client, p.url+"/v1/chat/completions"); got != body {
		t.Fatalf("body changed: %d bytes, want %d", len(got), len(body))
	}
	e := p.sink.wait(t, 1)[0]
	if e.InputTokens != 1234 || e.OutputTokens != 5000 || e.Model != "gpt-4o-mini" || e.TTFT != 0 {
		t.Errorf("event %+v", e)
	}
	if s := p.Stats(); s.BytesOut != uint64(len(body)) {
		t.Errorf("bytes out %d, want %d", s.BytesOut, len(body))
	}
}

func TestUsageBeyondMaxInspectIsNotRead(t *testing.T) {
	body := `{"model":"m","pad":"` + strings.Repeat("x", 200) + `","usage":{"prompt_tokens":1}}`
	up := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, body)
	})
	p := startProxy(t, Config{MaxInspect: 100}, up.URL)
	if _, got := get(t, p.client, p.url+"/"); got != body {
		t.Fatalf("body changed")
	}
	if e := p.sink.wait(t, 1)[0]; e.Model != "m" || e.InputTokens != 0 {
		t.Errorf("event %+v", e)
	}
}

// streamTest has the upstream take think on the proxy's clock, send first, flush, and wait;
// the client must read first through the proxy before the clock moves on by hold and the
// upstream is released to send rest. The proxy's clock moves only then, so the event's latency
// is think+hold and a stream's time to first byte is think, exactly.
func streamTest(t *testing.T, contentType, first, rest string, think, hold time.Duration) reqstats.Event {
	t.Helper()
	clock := newFakeClock()
	release := make(chan struct{})
	up := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		clock.Advance(think)
		w.Header().Set("Content-Type", contentType)
		io.WriteString(w, first)
		w.(http.Flusher).Flush()
		<-release
		for _, part := range strings.SplitAfter(rest, "\n\n") {
			io.WriteString(w, part)
			w.(http.Flusher).Flush()
		}
	})
	p := startProxy(t, Config{Now: clock.Now}, up.URL)
	res, err := p.client.Get(p.url + "/stream")
	if err != nil {
		close(release)
		t.Fatal(err)
	}
	defer res.Body.Close()
	got := make([]byte, len(first))
	if _, err := io.ReadFull(res.Body, got); err != nil || string(got) != first {
		close(release)
		t.Fatalf("first chunk %q, %v; want %q", got, err, first)
	}
	// The client has the first chunk while the upstream is still blocked: nothing is buffered.
	clock.Advance(hold)
	close(release)
	tail, err := io.ReadAll(res.Body)
	if err != nil || string(tail) != rest {
		t.Fatalf("rest %q, %v; want %q", tail, err, rest)
	}
	if res.ContentLength != -1 || res.Header.Get("Content-Type") != contentType {
		t.Errorf("response headers changed: length %d, type %q", res.ContentLength, res.Header.Get("Content-Type"))
	}
	return p.sink.wait(t, 1)[0]
}

func TestStreamingJSONBody(t *testing.T) {
	const think, hold = 20 * time.Millisecond, 50 * time.Millisecond
	e := streamTest(t, "application/json",
		`{"id":"x","model":"gpt-4o",`,
		`"choices":[{"message":{"content":"hello"}}],"usage":{"prompt_tokens":7,"completion_tokens":9}}`,
		think, hold)
	if e.InputTokens != 7 || e.OutputTokens != 9 || e.Model != "gpt-4o" || e.Latency != think+hold || e.TTFT != 0 {
		t.Errorf("event %+v, want latency %s and no TTFT", e, think+hold)
	}
}

func TestServerSentEvents(t *testing.T) {
	const think, hold = 30 * time.Millisecond, 80 * time.Millisecond
	e := streamTest(t, "text/event-stream",
		"data: {\"model\":\"gpt-4o\",\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n\n",
		"data: {\"choices\":[{\"delta\":{\"content\":\"lo\"}}]}\n\n"+
			"data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2}}\n\n"+
			"data: [DONE]\n\n",
		think, hold)
	if e.InputTokens != 3 || e.OutputTokens != 2 || e.Model != "gpt-4o" {
		t.Errorf("event %+v", e)
	}
	if e.TTFT != think || e.Latency != think+hold {
		t.Errorf("TTFT %s, latency %s; want the first byte after the %s think and the end after the %s hold", e.TTFT, e.Latency, think, hold)
	}
}

func TestDraining(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	up := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(entered)
			<-release
		}
		io.WriteString(w, "done")
	})
	p := startProxy(t, Config{RetryAfter: 2500 * time.Millisecond}, up.URL)

	slow := make(chan string, 1)
	go func() {
		res, err := p.client.Get(p.url + "/slow")
		if err != nil {
			slow <- err.Error()
			return
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		slow <- fmt.Sprint(res.StatusCode, " ", string(b))
	}()
	<-entered
	p.drain.Store(true)
	res, body := get(t, p.client, p.url+"/fast")
	if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") != "3" || !strings.Contains(body, "draining") {
		t.Errorf("while draining: status %d, Retry-After %q, body %q", res.StatusCode, res.Header.Get("Retry-After"), body)
	}
	if n := p.tracker.n.Load(); n != 1 {
		t.Errorf("in flight while the slow request runs: %d", n)
	}
	close(release)
	if got := <-slow; got != "200 done" {
		t.Errorf("the request in flight got %q", got)
	}
	if e := p.sink.wait(t, 1); len(e) != 1 || e[0].Status != 200 {
		t.Errorf("events %+v: only the request in flight is recorded", e)
	}
	if s := p.Stats(); s.Rejected != 1 || s.Requests != 1 {
		t.Errorf("stats %+v", s)
	}
	p.drain.Store(false)
	if res, _ := get(t, p.client, p.url+"/fast"); res.StatusCode != 200 {
		t.Errorf("after undrain: status %d", res.StatusCode)
	}
}

func TestShutdownLetsRequestsFinish(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	up := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		io.WriteString(w, "finished")
	})
	p := startProxy(t, Config{}, up.URL)
	slow := make(chan string, 1)
	go func() {
		res, err := p.client.Get(p.url + "/")
		if err != nil {
			slow <- err.Error()
			return
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		slow <- string(b)
	}()
	<-entered
	stopped := make(chan error, 1)
	go func() { stopped <- p.stop() }()
	select {
	case err := <-stopped:
		t.Fatalf("Run returned (%v) with a request in flight", err)
	case <-time.After(100 * time.Millisecond):
	}
	if _, err := net.DialTimeout("tcp", p.Addr(), time.Second); err == nil {
		t.Error("the proxy still accepts connections while shutting down")
	}
	close(release)
	if got := <-slow; got != "finished" {
		t.Errorf("request in flight got %q", got)
	}
	if err := <-stopped; err != nil {
		t.Errorf("Run: %v", err)
	}
}

func TestUpstreamDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	p := startProxy(t, Config{}, addr)
	if res, _ := get(t, p.client, p.url+"/"); res.StatusCode != http.StatusBadGateway {
		t.Errorf("status %d", res.StatusCode)
	}
	if e := p.sink.wait(t, 1)[0]; !e.Error || e.Status != http.StatusBadGateway {
		t.Errorf("event %+v", e)
	}
}

func TestUpstreamBreaksOffMidBody(t *testing.T) {
	up := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		io.WriteString(w, "only part")
		w.(http.Flusher).Flush()
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	})
	p := startProxy(t, Config{}, up.URL)
	res, err := p.client.Get(p.url + "/")
	if err == nil {
		_, err = io.ReadAll(res.Body)
		res.Body.Close()
	}
	if err == nil {
		t.Error("the client read a whole body")
	}
	if e := p.sink.wait(t, 1)[0]; !e.Error || e.Status != 200 {
		t.Errorf("event %+v", e)
	}
}

func TestClientGoesAway(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	up := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	p := startProxy(t, Config{}, up.URL)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.url+"/", nil)
	go func() {
		<-entered
		cancel()
	}()
	if _, err := p.client.Do(req); err == nil {
		t.Fatal("request succeeded")
	}
	if e := p.sink.wait(t, 1)[0]; e.Error || e.Status != statusClientClosed {
		t.Errorf("event %+v", e)
	}
}

func TestRequestPassesThrough(t *testing.T) {
	up := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s host=%s xff=%s len=%d enc=%q", r.Method, r.URL.RequestURI(), r.Host,
			r.Header.Get("X-Forwarded-For"), len(b), r.Header.Get("Accept-Encoding"))
	})
	p := startProxy(t, Config{}, up.URL+"/app")
	req, _ := http.NewRequest(http.MethodPost, p.url+"/predict?q=1", strings.NewReader(strings.Repeat("x", 1000)))
	req.Host = "dspy.example"
	req.Header.Set("X-Forwarded-For", "203.0.113.9")
	res, err := p.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	want := `POST /app/predict?q=1 host=dspy.example xff=203.0.113.9, 127.0.0.1 len=1000 enc=""`
	if string(b) != want {
		t.Errorf("upstream saw %q\n        want %q", b, want)
	}
	p.sink.wait(t, 1)
	if s := p.Stats(); s.BytesIn != 1000 || s.BytesOut != uint64(len(b)) {
		t.Errorf("stats %+v", s)
	}
}

func TestUpgradePassesThrough(t *testing.T) {
	up := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "echo" {
			http.Error(w, "want an upgrade", http.StatusBadRequest)
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		brw.Flush()
		line, _ := brw.ReadString('\n')
		brw.WriteString("echo: " + line)
		brw.Flush()
	})
	p := startProxy(t, Config{}, up.URL)
	conn, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
	br := bufio.NewReader(conn)
	res, err := http.ReadResponse(br, nil)
	if err != nil || res.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v, %+v", err, res)
	}
	io.WriteString(conn, "hi\n")
	if line, err := br.ReadString('\n'); err != nil || line != "echo: hi\n" {
		t.Errorf("read %q, %v", line, err)
	}
	conn.Close()
	if e := p.sink.wait(t, 1)[0]; e.Status != http.StatusSwitchingProtocols || e.Error {
		t.Errorf("event %+v", e)
	}
}

func TestConfig(t *testing.T) {
	for _, cfg := range []Config{
		{Upstream: "127.0.0.1:8000"},
		{Listen: ":0"},
		{Listen: ":0", Upstream: "ftp://host"},
		{Listen: ":0", Upstream: "http://"},
		{Listen: ":0", Upstream: "http://host/?q=1"},
		{Listen: ":0", Upstream: "host:1", RetryAfter: -1},
		{Listen: ":0", Upstream: "host:1", MaxInspect: -1},
		{Listen: ":0", Upstream: "host:1", ShutdownTimeout: -1},
		{Listen: ":0", Upstream: "host:1", MaxConcurrency: -1},
		{Listen: ":0", Upstream: "host:1", MaxQueue: -1},
		{Listen: ":0", Upstream: "host:1", QueueTimeout: -1},
	} {
		if _, err := New(cfg, &recordingSink{}, nil, nil, quiet); err == nil {
			t.Errorf("New(%+v) = nil error", cfg)
		}
	}
	if _, err := New(Config{Listen: ":0", Upstream: "host:1"}, nil, nil, nil, quiet); err == nil {
		t.Error("New without a sink = nil error")
	}
	p, err := New(Config{Listen: ":0", Upstream: "https://host:1/prefix"}, &recordingSink{}, nil, nil, nil)
	if err != nil || p.retryAfter != "5" {
		t.Errorf("New: %v, retry-after %q", err, p.retryAfter)
	}
}

func TestOddStatusIsDroppedNotTheEvent(t *testing.T) {
	up := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(777)
	})
	p := startProxy(t, Config{}, up.URL)
	if res, _ := get(t, p.client, p.url+"/"); res.StatusCode != 777 {
		t.Errorf("status %d", res.StatusCode)
	}
	if e := p.sink.wait(t, 1)[0]; e.Status != 0 || !e.Error {
		t.Errorf("event %+v", e)
	}
}

func TestQueueForUpstreamSlots(t *testing.T) {
	var running, most atomic.Int64
	entered, release := make(chan struct{}, 8), make(chan struct{})
	up := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		n := running.Add(1)
		defer running.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		entered <- struct{}{}
		<-release
		io.WriteString(w, "done")
	})
	p := startProxy(t, Config{MaxConcurrency: 1, MaxQueue: 2, QueueTimeout: time.Minute}, up.URL)
	results := make(chan string, 3)
	fetch := func() {
		res, err := p.client.Get(p.url + "/predict")
		if err != nil {
			results <- err.Error()
			return
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		results <- fmt.Sprint(res.StatusCode, " ", string(b))
	}
	go fetch()
	<-entered
	go fetch()
	go fetch()
	fleettest.Eventually(t, 5*time.Second, "two requests queued", func() bool { return p.Queued() == 2 })
	res, body := get(t, p.client, p.url+"/predict")
	if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" || !strings.Contains(body, "queue is full") {
		t.Errorf("a fourth request with the queue full: %d %q", res.StatusCode, body)
	}
	if s := p.Stats(); s.Queued != 2 || s.QueueRejected != 1 {
		t.Errorf("stats %+v", s)
	}
	close(release)
	for range 3 {
		if got := <-results; got != "200 done" {
			t.Errorf("a queued request got %q", got)
		}
	}
	if most.Load() != 1 || p.Queued() != 0 {
		t.Errorf("upstream saw %d at once (limit 1), %d still queued", most.Load(), p.Queued())
	}
}

func TestQueueTimeout(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	up := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(entered)
			<-release
		}
		io.WriteString(w, "done")
	})
	p := startProxy(t, Config{MaxConcurrency: 1, QueueTimeout: 20 * time.Millisecond}, up.URL)
	slow := make(chan int, 1)
	go func() {
		res, err := p.client.Get(p.url + "/slow")
		if err != nil {
			slow <- 0
			return
		}
		res.Body.Close()
		slow <- res.StatusCode
	}()
	<-entered
	res, body := get(t, p.client, p.url+"/fast")
	if res.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "no upstream slot became free within 20ms") {
		t.Errorf("a request that waited past the queue timeout: %d %q", res.StatusCode, body)
	}
	close(release)
	if code := <-slow; code != 200 {
		t.Errorf("the request holding the slot got %d", code)
	}
	if res, _ := get(t, p.client, p.url+"/fast"); res.StatusCode != 200 {
		t.Errorf("with the slot free: %d", res.StatusCode)
	}
}
