package intake

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// ndjsonBatch is a realistic batch of n request lines.
func ndjsonBatch(n int) []byte {
	var b bytes.Buffer
	for k := range n {
		fmt.Fprintf(&b, `{"ts":1767225600.%03d,"program":"qa","module":"answer","model":"openai/gpt-4o-mini","latency_ms":%d.5,"ttft_ms":120,"input_tokens":%d,"output_tokens":85,"cache_hit":%t,"error":false,"status":200}`+"\n",
			k, 300+k, 1000+k, k%4 == 0)
	}
	return b.Bytes()
}

// BenchmarkIntakeNDJSON posts batches of 100 NDJSON lines, through the handler and through a
// real loopback server, and reports events per second.
func BenchmarkIntakeNDJSON(b *testing.B) {
	const perBatch = 100
	body := ndjsonBatch(perBatch)
	b.Run("handler", func(b *testing.B) {
		in := newIntake(b, Config{}, &countingSink{})
		start(b, in)
		h := in.Handler()
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			req := httptest.NewRequest(http.MethodPost, "/v1/requests", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/x-ndjson")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
		}
		b.ReportMetric(float64(b.N*perBatch)/b.Elapsed().Seconds(), "events/s")
	})
	b.Run("loopback", func(b *testing.B) {
		in := newIntake(b, Config{}, &countingSink{})
		start(b, in)
		tr := &http.Transport{}
		defer tr.CloseIdleConnections()
		client := &http.Client{Transport: tr}
		url := "http://" + in.Addr() + "/v1/requests"
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, url, bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/x-ndjson")
			res, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				b.Fatalf("status %d", res.StatusCode)
			}
		}
		b.ReportMetric(float64(b.N*perBatch)/b.Elapsed().Seconds(), "events/s")
	})
}
