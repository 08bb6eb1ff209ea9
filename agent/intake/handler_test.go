package intake

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dspyfleet/dspyfleet/pkg/reqstats"
)

// decodeReply parses a reply body.
func decodeReply(t *testing.T, rec *httptest.ResponseRecorder) Reply {
	t.Helper()
	var r Reply
	if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
		t.Fatalf("reply %q: %v", rec.Body, err)
	}
	return r
}

// drained hands whatever in has queued to a fresh sink and returns it; for tests that do not
// call Run.
func drained(in *Intake) []reqstats.Event {
	sink := &recordingSink{}
	in.queue.deliver(sink, nil)
	return sink.all()
}

func TestSingleObject(t *testing.T) {
	in := newIntake(t, Config{}, &recordingSink{})
	before := time.Now()
	rec := post(in, "application/json", `{"ts":"2025-06-01T12:00:00.5Z","program":"qa","module":"answer","model":"openai/gpt-4o-mini",
		"latency_ms":812.5,"ttft_ms":140,"input_tokens":1200,"output_tokens":85,"cache_hit":false,"error":"rate limited","status":429}`)
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("status %d %q: %s", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
	}
	if got := rec.Body.String(); got != `{"accepted":1,"rejected":[]}`+"\n" {
		t.Errorf("reply %s", got)
	}
	want := reqstats.Event{
		Time: time.Date(2025, 6, 1, 12, 0, 0, 5e8, time.UTC), Program: "qa", Module: "answer",
		Model: "openai/gpt-4o-mini", Latency: 812500 * time.Microsecond, TTFT: 140 * time.Millisecond,
		InputTokens: 1200, OutputTokens: 85, Cache: reqstats.CacheMiss, Error: true, Status: 429,
	}
	got := drained(in)
	if len(got) != 1 || !got[0].Time.Equal(want.Time) {
		t.Fatalf("events %+v", got)
	}
	got[0].Time = want.Time
	if got[0] != want {
		t.Errorf("event\n got %+v\nwant %+v", got[0], want)
	}

	// The least a reporter may send: latency. The time is when the body arrived.
	if rec := post(in, "", `{"latency_ms":3}`); rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	got = drained(in)
	if len(got) != 1 || got[0].Time.Before(before) || got[0].Time.After(time.Now()) ||
		got[0].Cache != reqstats.CacheUnknown || got[0].Error || got[0].Latency != 3*time.Millisecond {
		t.Errorf("events %+v", got)
	}
}

func TestFieldForms(t *testing.T) {
	for _, tc := range []struct {
		body string
		want func(reqstats.Event) bool
	}{
		{`{"latency_ms":1,"ts":1767225600.25}`, func(e reqstats.Event) bool {
			return e.Time.Equal(time.Unix(1767225600, 25e7))
		}},
		{`{"latency_ms":1,"ts":"2025-06-01T12:00:00+02:00"}`, func(e reqstats.Event) bool {
			return e.Time.Equal(time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC))
		}},
		{`{"latency_ms":1,"status":503}`, func(e reqstats.Event) bool { return e.Error && e.Status == 503 }},
		{`{"latency_ms":1,"status":503,"error":false}`, func(e reqstats.Event) bool { return !e.Error }},
		{`{"latency_ms":1,"error":""}`, func(e reqstats.Event) bool { return !e.Error }},
		{`{"latency_ms":1,"error":true}`, func(e reqstats.Event) bool { return e.Error }},
		{`{"latency_ms":1,"cache_hit":true}`, func(e reqstats.Event) bool { return e.Cache == reqstats.CacheHit }},
		{`{"latency_ms":1,"cache_hit":null,"model":null}`, func(e reqstats.Event) bool { return e.Cache == reqstats.CacheUnknown }},
		{`{"latency_ms":0.001}`, func(e reqstats.Event) bool { return e.Latency == time.Microsecond }},
		{`{"latency_ms":1e3}`, func(e reqstats.Event) bool { return e.Latency == time.Second }},
		{`{"latency_ms":1,"program":"caf\u00e9 \"q\""}`, func(e reqstats.Event) bool { return e.Program == `café "q"` }},
		{`{"latency_ms":1,"ts":"` + time.Now().Add(time.Minute).Format(time.RFC3339) + `"}`, func(e reqstats.Event) bool { return true }},
	} {
		in := newIntake(t, Config{}, &recordingSink{})
		if rec := post(in, "", tc.body); rec.Code != http.StatusOK {
			t.Errorf("%s: status %d: %s", tc.body, rec.Code, rec.Body)
			continue
		}
		if got := drained(in); len(got) != 1 || !tc.want(got[0]) {
			t.Errorf("%s: events %+v", tc.body, got)
		}
	}
}

func TestBadInput(t *testing.T) {
	future := time.Now().Add(time.Hour).Format(time.RFC3339)
	for _, tc := range []struct {
		body           string
		field, message string // the first error
	}{
		{`{"latency_ms":-1}`, "latency_ms", "negative"},
		{`{"latency_ms":-0.5}`, "latency_ms", "negative"},
		{`{"latency_ms":"NaN"}`, "latency_ms", "must be a number of milliseconds, got a string"},
		{`{"latency_ms":"Infinity"}`, "latency_ms", "got a string"},
		{`{"latency_ms":NaN}`, "", "not JSON"},
		{`{"latency_ms":1e400}`, "latency_ms", "out of range"},
		{`{"latency_ms":-1e400}`, "latency_ms", "out of range"},
		{`{"latency_ms":1e300}`, "latency_ms", "longer than 24h0m0s"},
		{`{"latency_ms":1,"ttft_ms":1e20}`, "ttft_ms", "longer than 24h0m0s"},
		{`{"latency_ms":1,"ttft_ms":2}`, "ttft_ms", "longer than latency_ms"},
		{`{"program":"qa"}`, "latency_ms", "required"},
		{`{"latency_ms":null}`, "latency_ms", "required"},
		{`{"latency_ms":1,"tokens":5}`, "tokens", "unknown field"},
		{`{"latency_ms":1,"Latency_MS":5}`, "Latency_MS", "unknown field"},
		{`{"latency_ms":1,"latency_ms":2}`, "latency_ms", "more than once"},
		{`{"latency_ms":1,"ts":"` + future + `"}`, "ts", "ahead of now"},
		{`{"latency_ms":1,"ts":4e9}`, "ts", "ahead of now"},
		{`{"latency_ms":1,"ts":1e20}`, "ts", "out of range"},
		{`{"latency_ms":1,"ts":-5}`, "ts", "out of range"},
		{`{"latency_ms":1,"ts":"yesterday"}`, "ts", "not RFC 3339"},
		{`{"latency_ms":1,"ts":true}`, "ts", "got a boolean"},
		{`{"latency_ms":1,"program":5}`, "program", "must be a string, got a number"},
		{`{"latency_ms":1,"model":{"name":"x"}}`, "model", "got an object"},
		{`{"latency_ms":1,"module":"a\u0001b"}`, "module", "control character"},
		{`{"latency_ms":1,"program":"` + strings.Repeat("p", 200) + `"}`, "program", "longer than 128"},
		{`{"latency_ms":1,"input_tokens":1.5}`, "input_tokens", "not an integer"},
		{`{"latency_ms":1,"input_tokens":-3}`, "input_tokens", "negative"},
		{`{"latency_ms":1,"output_tokens":"12"}`, "output_tokens", "got a string"},
		{`{"latency_ms":1,"output_tokens":99999999999999999999}`, "output_tokens", "out of range"},
		{`{"latency_ms":1,"cache_hit":"yes"}`, "cache_hit", "true or false"},
		{`{"latency_ms":1,"error":3}`, "error", "boolean or a message"},
		{`{"latency_ms":1,"status":"200"}`, "status", "got a string"},
		{`{"latency_ms":1,"status":700}`, "status", "not 0 (unknown) or 100-599"},
		{`{"latency_ms":1,"status":1e3}`, "status", "not an integer"},
		{`{"latency_ms":1,"status":9999999999999}`, "status", "out of range"},
		{`not json`, "", "not JSON"},
		{`{"latency_ms":1`, "", "cut short"},
		{`{"latency_ms":1}}`, "", "after the value"},
		{`{"latency_ms":1} {"latency_ms":2}`, "", "after the value"},
		{`[{"latency_ms":1}]`, "", "must be a JSON object, got an array"},
		{`"latency_ms"`, "", "got a string"},
		{`{"latency_ms":1,"x":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`, "", "nested more than"},
		{`{"latency_ms":01}`, "", "not JSON"},
		{`{"latency_ms":1,"program":"a` + "\t" + `b"}`, "", "not JSON"},
	} {
		in := newIntake(t, Config{}, &recordingSink{})
		rec := post(in, "application/json", tc.body)
		if rec.Code != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400: %s", tc.body, rec.Code, rec.Body)
			continue
		}
		r := decodeReply(t, rec)
		if r.Accepted != 0 || len(r.Rejected) != 1 || r.Rejected[0].Line != 1 || len(r.Rejected[0].Errors) == 0 {
			t.Errorf("%s: reply %+v", tc.body, r)
			continue
		}
		if e := r.Rejected[0].Errors[0]; e.Field != tc.field || !strings.Contains(e.Message, tc.message) {
			t.Errorf("%s: first error %+v, want field %q and %q", tc.body, e, tc.field, tc.message)
		}
		if got := drained(in); len(got) != 0 {
			t.Errorf("%s: accepted %+v", tc.body, got)
		}
	}
}

func TestEveryBadFieldNamed(t *testing.T) {
	in := newIntake(t, Config{}, &recordingSink{})
	rec := post(in, "", `{"latency_ms":-1,"ttft_ms":"x","input_tokens":-2,"status":42,"bogus":1,"also":2}`)
	if rec.Code != http.StatusBadRequest {
		t.Fatalf("status %d", rec.Code)
	}
	var fields []string
	for _, e := range decodeReply(t, rec).Rejected[0].Errors {
		fields = append(fields, e.Field)
	}
	if got := strings.Join(fields, ","); got != "bogus,also,latency_ms,ttft_ms,input_tokens,status" {
		t.Errorf("fields %s", got)
	}
}

func TestBatch(t *testing.T) {
	in := newIntake(t, Config{}, &recordingSink{})
	body := strings.Join([]string{
		`{"latency_ms":10,"program":"a"}`,
		`{"latency_ms":-1,"input_tokens":-5}`,
		``,
		`{"latency_ms":30,"program":"c"}`,
		`{"latency_ms":"slow"}`,
		`this is not json`,
		`  {"latency_ms":60,"program":"f"}  `,
		`{"latency_ms":70,"extra":true}`,
	}, "\n")
	rec := post(in, "application/x-ndjson", body)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	r := decodeReply(t, rec)
	type line struct {
		n      int
		fields string
	}
	var got []line
	for _, rj := range r.Rejected {
		var f []string
		for _, e := range rj.Errors {
			f = append(f, e.Field)
		}
		got = append(got, line{rj.Line, strings.Join(f, ",")})
	}
	want := []line{{2, "latency_ms,input_tokens"}, {5, "latency_ms"}, {6, ""}, {8, "extra"}}
	if r.Accepted != 3 || len(got) != len(want) {
		t.Fatalf("accepted %d, rejected %+v", r.Accepted, got)
	}
	for k := range want {
		if got[k] != want[k] {
			t.Errorf("rejection %d: %+v, want %+v", k, got[k], want[k])
		}
	}
	var programs []string
	for _, e := range drained(in) {
		programs = append(programs, e.Program)
	}
	if strings.Join(programs, "") != "acf" {
		t.Errorf("accepted programs %v", programs)
	}

	// Without a Content-Type, several lines are a batch too; every line failing is a 400.
	rec = post(in, "", "{\"latency_ms\":-1}\n{\"latency_ms\":-2}\n")
	if r := decodeReply(t, rec); rec.Code != http.StatusBadRequest || r.Accepted != 0 || len(r.Rejected) != 2 || r.Rejected[1].Line != 2 {
		t.Errorf("status %d, reply %+v", rec.Code, r)
	}
}

func TestPrettyPrintedObject(t *testing.T) {
	in := newIntake(t, Config{}, &recordingSink{})
	body := "\n{\n  \"latency_ms\": 5,\n  \"model\": \"m\"\n}\n"
	if rec := post(in, "application/json", body); rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if got := drained(in); len(got) != 1 || got[0].Model != "m" {
		t.Fatalf("events %+v", got)
	}
	// Declared NDJSON, the same body is lines that are not objects.
	rec := post(in, "application/x-ndjson", body)
	if r := decodeReply(t, rec); rec.Code != http.StatusBadRequest || len(r.Rejected) != 4 || r.Rejected[0].Line != 2 {
		t.Errorf("status %d, reply %+v", rec.Code, r)
	}
	// A bad pretty-printed object is reported at its first line.
	rec = post(in, "", "\n\n{\n  \"latency_ms\": -5\n}")
	if r := decodeReply(t, rec); rec.Code != http.StatusBadRequest || len(r.Rejected) != 1 || r.Rejected[0].Line != 3 {
		t.Errorf("status %d, reply %+v", rec.Code, r)
	}
}

func TestEmptyBody(t *testing.T) {
	in := newIntake(t, Config{}, &recordingSink{})
	for _, body := range []string{"", " \n\t\n"} {
		rec := post(in, "", body)
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "no request") {
			t.Errorf("%q: status %d: %s", body, rec.Code, rec.Body)
		}
	}
}

func TestManyRejectionsListedUpToTheCap(t *testing.T) {
	in := newIntake(t, Config{}, &recordingSink{})
	body := strings.Repeat("{\"latency_ms\":-1}\n", maxListedRejections+5) + `{"latency_ms":1}`
	rec := post(in, "application/x-ndjson", body)
	r := decodeReply(t, rec)
	if rec.Code != http.StatusOK || r.Accepted != 1 || len(r.Rejected) != maxListedRejections || r.MoreRejected != 5 {
		t.Errorf("status %d, accepted %d, listed %d, more %d", rec.Code, r.Accepted, len(r.Rejected), r.MoreRejected)
	}
}

func TestBodyLimit(t *testing.T) {
	in := newIntake(t, Config{MaxBody: 100}, &recordingSink{})
	body := strings.Repeat(`{"latency_ms":1}`+"\n", 10)

	// With a Content-Length the intake refuses before reading.
	rec := post(in, "application/x-ndjson", body)
	if rec.Code != http.StatusRequestEntityTooLarge || !strings.Contains(rec.Body.String(), "100-byte limit") {
		t.Errorf("status %d: %s", rec.Code, rec.Body)
	}
	// Without one (chunked), it stops reading at the limit.
	req := httptest.NewRequest(http.MethodPost, "/v1/requests", struct{ *strings.Reader }{strings.NewReader(body)})
	req.ContentLength = -1
	rec = httptest.NewRecorder()
	in.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusRequestEntityTooLarge || !strings.Contains(rec.Body.String(), "100-byte limit") {
		t.Errorf("chunked: status %d: %s", rec.Code, rec.Body)
	}
	// Exactly at the limit is fine.
	if rec := post(in, "", strings.Repeat(" ", 100-16)+`{"latency_ms":1}`); rec.Code != http.StatusOK {
		t.Errorf("at the limit: status %d: %s", rec.Code, rec.Body)
	}
	if got := drained(in); len(got) != 1 {
		t.Errorf("events %+v", got)
	}
}

func TestRoutes(t *testing.T) {
	in := newIntake(t, Config{}, &recordingSink{})
	for _, tc := range []struct {
		method, path string
		status       int
		allow        string
	}{
		{http.MethodGet, "/v1/requests", http.StatusMethodNotAllowed, "POST"},
		{http.MethodPut, "/v1/requests", http.StatusMethodNotAllowed, "POST"},
		{http.MethodGet, "/healthz", http.StatusOK, ""},
		{http.MethodHead, "/healthz", http.StatusOK, ""},
		{http.MethodPost, "/healthz", http.StatusMethodNotAllowed, "GET, HEAD"},
		{http.MethodGet, "/nope", http.StatusNotFound, ""},
	} {
		rec := httptest.NewRecorder()
		in.Handler().ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
		if rec.Code != tc.status || rec.Header().Get("Allow") != tc.allow {
			t.Errorf("%s %s: status %d, Allow %q", tc.method, tc.path, rec.Code, rec.Header().Get("Allow"))
		}
	}
}

func TestConfig(t *testing.T) {
	for _, cfg := range []Config{
		{},
		{Listen: "127.0.0.1:0", MaxBody: -1},
		{Listen: "127.0.0.1:0", QueueSize: -1},
		{Listen: "127.0.0.1:0", MaxSkew: -time.Second},
	} {
		if _, err := New(cfg, &recordingSink{}, quiet); err == nil {
			t.Errorf("New(%+v) = nil error", cfg)
		}
	}
	if _, err := New(Config{Listen: "127.0.0.1:0"}, nil, quiet); err == nil {
		t.Error("New without a sink = nil error")
	}
}
