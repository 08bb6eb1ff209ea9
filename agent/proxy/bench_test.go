package proxy

import (
	"io"
	"net/http"
	"slices"
	"testing"
	"time"
)

// BenchmarkProxyOverhead calls a loopback upstream directly and through the proxy, alternately,
// and reports the latency the proxy adds at the median and the 99th percentile. Run it with a
// bounded count, e.g. -benchtime=5000x.
func BenchmarkProxyOverhead(b *testing.B) {
	const body = `{"id":"x","model":"gpt-4o-mini","choices":[{"message":{"content":"hello"}}],"usage":{"prompt_tokens":12,"completion_tokens":3}}`
	up := upstream(b, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, body)
	})
	p := startProxy(b, Config{}, up.URL)
	call := func(url string) time.Duration {
		start := time.Now()
		res, err := p.client.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return time.Since(start)
	}
	// Warm both paths' connection pools.
	call(up.URL + "/")
	call(p.url + "/")
	var direct, proxied []time.Duration
	for b.Loop() {
		direct = append(direct, call(up.URL+"/"))
		proxied = append(proxied, call(p.url+"/"))
	}
	b.StopTimer()
	if n := len(p.sink.wait(b, len(proxied)+1)); n != len(proxied)+1 {
		b.Fatalf("%d events for %d requests", n, len(proxied)+1)
	}
	pct := func(d []time.Duration, q float64) float64 {
		slices.Sort(d)
		return float64(d[int(q*float64(len(d)-1))].Nanoseconds()) / 1e3
	}
	d50, d99 := pct(direct, 0.50), pct(direct, 0.99)
	p50, p99 := pct(proxied, 0.50), pct(proxied, 0.99)
	b.ReportMetric(d50, "direct-p50-µs")
	b.ReportMetric(d99, "direct-p99-µs")
	b.ReportMetric(p50, "proxied-p50-µs")
	b.ReportMetric(p99, "proxied-p99-µs")
	b.ReportMetric(p50-d50, "added-p50-µs")
	b.ReportMetric(p99-d99, "added-p99-µs")
}
