package intake

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// routes is the intake's HTTP surface. The mux answers other methods with 405 and an Allow header.
func (i *Intake) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/requests", i.serveRequests)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	return mux
}

// bodies recycles request-body buffers.
var bodies = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// serveRequests takes one JSON object or a batch of NDJSON lines.
func (i *Intake) serveRequests(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	if r.ContentLength > i.cfg.MaxBody {
		i.tooLarge(w)
		return
	}
	buf := bodies.Get().(*bytes.Buffer)
	defer func() {
		buf.Reset()
		bodies.Put(buf)
	}()
	if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, i.cfg.MaxBody)); err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			i.tooLarge(w)
			return
		}
		replyError(w, http.StatusBadRequest, "reading the body: %v", err)
		return
	}
	b := parseBody(buf.Bytes(), isNDJSON(r.Header.Get("Content-Type")), now, i.cfg.MaxSkew)
	switch n := len(b.events); {
	case n == 0 && len(b.reply.Rejected) == 0:
		replyError(w, http.StatusBadRequest, "the body holds no request")
		return
	case n > i.cfg.QueueSize:
		replyError(w, http.StatusRequestEntityTooLarge, "a batch of %d requests is more than the queue holds (%d); send smaller batches", n, i.cfg.QueueSize)
		return
	case n > 0 && !i.queue.push(b.events):
		i.dropped.Add(uint64(n))
		w.Header().Set("Retry-After", "1")
		replyError(w, http.StatusTooManyRequests, "the queue is full; %d requests dropped, retry later", n)
		return
	}
	if b.queue >= 0 {
		i.noteQueue(b.queue)
	}
	status := http.StatusOK
	if b.reply.Accepted == 0 {
		status = http.StatusBadRequest
	}
	reply(w, status, b.reply)
}

// tooLarge answers a body over the limit.
func (i *Intake) tooLarge(w http.ResponseWriter) {
	replyError(w, http.StatusRequestEntityTooLarge, "the body is larger than the %d-byte limit", i.cfg.MaxBody)
}

// isNDJSON reports whether a Content-Type declares newline-delimited JSON.
func isNDJSON(contentType string) bool {
	mt, _, _ := mime.ParseMediaType(contentType)
	switch mt {
	case "application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines":
		return true
	}
	return false
}

// reply writes v as JSON. A reply with nothing rejected, the common case, is written by hand.
func reply(w http.ResponseWriter, status int, v Reply) {
	w.Header().Set("Content-Type", "application/json")
	if len(v.Rejected) == 0 {
		w.WriteHeader(status)
		b := make([]byte, 0, 48)
		b = append(b, `{"accepted":`...)
		b = strconv.AppendInt(b, int64(v.Accepted), 10)
		w.Write(append(b, ",\"rejected\":[]}\n"...))
		return
	}
	body, _ := json.Marshal(v) // cannot fail: Reply holds only strings and ints
	w.WriteHeader(status)
	w.Write(append(body, '\n'))
}

// replyError writes {"error": "..."}.
func replyError(w http.ResponseWriter, status int, format string, args ...any) {
	body, _ := json.Marshal(struct {
		Error string `json:"error"`
	}{fmt.Sprintf(format, args...)})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(body, '\n'))
}
