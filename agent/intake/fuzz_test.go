package intake

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// FuzzIntake posts arbitrary bodies: the handler never panics, answers only with the statuses
// it documents, accepts exactly the events that reach the queue, and every one passes Check.
func FuzzIntake(f *testing.F) {
	for _, seed := range []string{
		`{"latency_ms":1}`,
		`{"ts":"2025-06-01T12:00:00Z","program":"qa","module":"m","model":"x","latency_ms":812.5,"ttft_ms":140,"input_tokens":1200,"output_tokens":85,"cache_hit":true,"error":"boom","status":500}`,
		"{\"latency_ms\":1}\n{\"latency_ms\":-1}\n\nnot json\n{\"latency_ms\":2,\"x\":1}",
		"{\n \"latency_ms\": 3\n}",
		`{"latency_ms":1e400,"ts":1e20,"status":9999999999}`,
		`{"latency_ms":1,"program":"\u0000\ud800"}`,
		`[[[[{"a":[1,2,{"b":null}]}]]]]`,
		`{"latency_ms":1,"latency_ms":2}`,
		`{"latency_ms":0.5,"ttft_ms":0.6}`,
	} {
		f.Add([]byte(seed), false)
		f.Add([]byte(seed), true)
	}
	in, err := New(Config{Listen: DefaultListen, MaxBody: 1 << 16, MaxSkew: time.Minute}, &recordingSink{}, quiet)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte, ndjson bool) {
		req := httptest.NewRequest(http.MethodPost, "/v1/requests", bytes.NewReader(body))
		if ndjson {
			req.Header.Set("Content-Type", "application/x-ndjson")
		}
		rec := httptest.NewRecorder()
		in.Handler().ServeHTTP(rec, req)
		events := drained(in)
		now := time.Now()
		for _, e := range events {
			if errs := e.Check(now, time.Minute); errs != nil {
				t.Errorf("accepted %+v fails Check: %v", e, errs)
			}
		}
		switch rec.Code {
		case http.StatusOK, http.StatusBadRequest:
			var r Reply
			if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
				if rec.Code == http.StatusBadRequest && strings.Contains(rec.Body.String(), `"error"`) && len(events) == 0 {
					return // an empty body
				}
				t.Fatalf("status %d, reply %q: %v", rec.Code, rec.Body, err)
			}
			if r.Accepted != len(events) || (rec.Code == http.StatusOK) != (r.Accepted > 0) {
				t.Errorf("status %d, accepted %d, queued %d", rec.Code, r.Accepted, len(events))
			}
			for _, rj := range r.Rejected {
				if len(rj.Errors) == 0 || rj.Line < 1 || rj.Line > bytes.Count(body, newline)+1 {
					t.Errorf("rejection %+v", rj)
				}
			}
		case http.StatusRequestEntityTooLarge:
			if len(body) <= 1<<16 || len(events) != 0 {
				t.Errorf("413 for %d bytes, %d events queued", len(body), len(events))
			}
		default:
			t.Errorf("status %d: %s", rec.Code, rec.Body)
		}
	})
}

// FuzzScanner checks the scanner against encoding/json: it accepts what json.Valid accepts,
// except values nested deeper than maxDepth, and nothing else.
func FuzzScanner(f *testing.F) {
	for _, seed := range []string{
		`{}`, `[]`, `{"a":[1,-0.5e+3,true,false,null,"\u00e9\n"]}`, `01`, `"\x"`, `[1,]`, `{"a" 1}`,
		`1.`, `-`, `1e`, "\"\x01\"", ` {"a":{"b":{}}} `, `{"a":1}x`, "\"\xff\"",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, err := members(b, func(_, _ []byte) {})
		valid := json.Valid(b)
		var se *syntaxError
		if err != nil && !errors.As(err, &se) {
			t.Fatalf("error of type %T", err)
		}
		switch {
		case err == nil && !valid:
			t.Errorf("scanner accepts %q, json.Valid does not", b)
		case err != nil && valid && !strings.Contains(err.Error(), "nested"):
			t.Errorf("scanner refuses %q (%v), json.Valid accepts it", b, err)
		}
	})
}
