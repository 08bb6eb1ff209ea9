package intake

import (
	"bytes"
	"encoding/json"
	"time"

	"github.com/dspyfleet/dspyfleet/pkg/reqstats"
)

// maxListedRejections bounds the rejected lines a reply lists; Reply.MoreRejected counts the rest.
const maxListedRejections = 1000

// batch is what one request body holds.
type batch struct {
	events []reqstats.Event
	reply  Reply
	queue  int64 // the largest queue_length of the accepted lines; -1 when none says
}

// Reply is the JSON answer to POST /v1/requests.
type Reply struct {
	Accepted     int         `json:"accepted"`
	Rejected     []Rejection `json:"rejected"`
	MoreRejected int         `json:"more_rejected,omitempty"` // rejected lines past the listed ones
}

// Rejection names a refused line (1-based, counting blank lines) and what is wrong with it.
type Rejection struct {
	Line   int          `json:"line"`
	Errors []FieldError `json:"errors"`
}

// FieldError is one bad field, by its JSON name; Field is empty when the line as a whole is bad
// (not JSON, not an object).
type FieldError struct {
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// jsonSpace is the whitespace JSON allows between values.
const jsonSpace = " \t\r\n"

// newline ends an NDJSON line.
var newline = []byte("\n")

// trimSpace trims JSON whitespace from both ends of b.
func trimSpace(b []byte) []byte { return bytes.Trim(b, jsonSpace) }

// parseBody decodes a request body. Unless ndjson says otherwise, a body that is one JSON value
// is one object however it is laid out; any other body holds one object on every non-blank
// line. now stands in for a missing ts and is the clock ts is checked against.
func parseBody(body []byte, ndjson bool, now time.Time, maxSkew time.Duration) *batch {
	b := &batch{reply: Reply{Rejected: []Rejection{}}, queue: -1}
	if !ndjson {
		lead := len(body) - len(bytes.TrimLeft(body, jsonSpace))
		if trimmed := trimSpace(body); bytes.IndexByte(trimmed, '\n') < 0 || json.Valid(trimmed) {
			if len(trimmed) > 0 {
				b.add(1+bytes.Count(body[:lead], newline), trimmed, now, maxSkew)
			}
			return b
		}
	}
	b.events = make([]reqstats.Event, 0, bytes.Count(body, newline)+1)
	for n := 1; len(body) > 0; n++ {
		line, rest, _ := bytes.Cut(body, newline)
		body = rest
		if line = trimSpace(line); len(line) > 0 {
			b.add(n, line, now, maxSkew)
		}
	}
	return b
}

// add decodes line n.
func (b *batch) add(n int, line []byte, now time.Time, maxSkew time.Duration) {
	var r record
	errs, err := r.decode(line)
	if err != nil {
		b.reject(n, lineError("not JSON: %v", err))
		return
	}
	e, ferrs := r.event(now, maxSkew)
	if errs = append(errs, ferrs...); len(errs) > 0 {
		b.reject(n, errs)
		return
	}
	b.events = append(b.events, e)
	b.reply.Accepted++
	if r.QueueLength.set {
		b.queue = max(b.queue, r.QueueLength.n)
	}
}

// reject lists line n as refused for errs.
func (b *batch) reject(n int, errs []reqstats.FieldError) {
	if len(b.reply.Rejected) == maxListedRejections {
		b.reply.MoreRejected++
		return
	}
	r := Rejection{Line: n, Errors: make([]FieldError, len(errs))}
	for i, fe := range errs {
		r.Errors[i] = FieldError(fe)
	}
	b.reply.Rejected = append(b.reply.Rejected, r)
}
