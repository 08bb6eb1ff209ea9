package intake

import (
	"fmt"
	"math"
	"time"

	"github.com/dspyfleet/dspyfleet/pkg/reqstats"
)

// record is one reported request as it arrives on the wire.
type record struct {
	TS           timeField
	Program      stringField
	Module       stringField
	Model        stringField
	LatencyMS    millisField
	TTFTMS       millisField
	InputTokens  intField
	OutputTokens intField
	CacheHit     boolField
	Error        errorField
	Status       intField
	QueueLength  intField
}

// maxQueueLength bounds queue_length, the service's own count of requests waiting for a worker.
const maxQueueLength = 1_000_000

// fieldNames are the JSON names of record's fields, in order.
var fieldNames = [...]string{
	"ts", "program", "module", "model", "latency_ms", "ttft_ms",
	"input_tokens", "output_tokens", "cache_hit", "error", "status", "queue_length",
}

// fields returns what r's fields share, in the order of fieldNames.
func (r *record) fields() [len(fieldNames)]*field {
	return [...]*field{
		&r.TS.field, &r.Program.field, &r.Module.field, &r.Model.field, &r.LatencyMS.field,
		&r.TTFTMS.field, &r.InputTokens.field, &r.OutputTokens.field, &r.CacheHit.field,
		&r.Error.field, &r.Status.field, &r.QueueLength.field,
	}
}

// decode reads one JSON object into r, which must be zero. It returns a syntax error when line
// is not exactly one JSON value, and otherwise what is wrong with the line beyond its fields'
// values: not an object, unknown fields. Names match exactly, case included.
func (r *record) decode(line []byte) ([]reqstats.FieldError, error) {
	var errs []reqstats.FieldError
	isObject, err := members(line, func(key, value []byte) {
		if name, _ := unquoteBytes(key); !r.set(name, value) {
			errs = append(errs, reqstats.FieldError{Field: clip(name), Message: "unknown field"})
		}
	})
	switch {
	case err != nil:
		return nil, err
	case !isObject:
		return lineError("must be a JSON object, got %s", kind(trimSpace(line))), nil
	}
	return errs, nil
}

// set parses value into the field called name and reports whether there is one.
func (r *record) set(name, value []byte) bool {
	switch string(name) {
	case "ts":
		r.TS.parse(value)
	case "program":
		r.Program.parse(value)
	case "module":
		r.Module.parse(value)
	case "model":
		r.Model.parse(value)
	case "latency_ms":
		r.LatencyMS.parse(value)
	case "ttft_ms":
		r.TTFTMS.parse(value)
	case "input_tokens":
		r.InputTokens.parse(value)
	case "output_tokens":
		r.OutputTokens.parse(value)
	case "cache_hit":
		r.CacheHit.parse(value)
	case "error":
		r.Error.parse(value)
	case "status":
		r.Status.parse(value)
	case "queue_length":
		r.QueueLength.parse(value)
	default:
		return false
	}
	return true
}

// lineError is the single complaint about a line as a whole.
func lineError(format string, args ...any) []reqstats.FieldError {
	return []reqstats.FieldError{{Message: fmt.Sprintf(format, args...)}}
}

// event builds the event r describes and checks it with reqstats.Event.Check. Fields that
// failed to parse are left zero so each is reported once.
func (r *record) event(now time.Time, maxSkew time.Duration) (reqstats.Event, []reqstats.FieldError) {
	if n := r.Status.n; n < math.MinInt32 || n > math.MaxInt32 {
		r.Status.refuse("%d is out of range", n)
		r.Status.n = 0
	}
	if n := r.QueueLength.n; n < 0 || n > maxQueueLength {
		r.QueueLength.refuse("%d must be within [0, %d]", n, maxQueueLength)
		r.QueueLength.n = 0
	}
	e := reqstats.Event{
		Time:         now,
		Program:      r.Program.s,
		Module:       r.Module.s,
		Model:        r.Model.s,
		Latency:      r.LatencyMS.d,
		TTFT:         r.TTFTMS.d,
		InputTokens:  r.InputTokens.n,
		OutputTokens: r.OutputTokens.n,
		Error:        r.Error.v,
		Status:       int(r.Status.n),
	}
	if r.TS.set {
		e.Time = r.TS.t
	}
	if r.CacheHit.set {
		e.Cache = reqstats.CacheMiss
		if r.CacheHit.v {
			e.Cache = reqstats.CacheHit
		}
	}
	if !r.Error.set && e.Status >= 500 {
		e.Error = true
	}
	var errs []reqstats.FieldError
	for k, f := range r.fields() {
		if f.bad != "" {
			errs = append(errs, reqstats.FieldError{Field: fieldNames[k], Message: f.bad})
		}
	}
	if !r.LatencyMS.set {
		errs = append(errs, reqstats.FieldError{Field: "latency_ms", Message: "is required"})
	}
	if e.TTFT > e.Latency && r.LatencyMS.set && r.LatencyMS.bad == "" {
		errs = append(errs, reqstats.FieldError{Field: "ttft_ms", Message: fmt.Sprintf("%s is longer than latency_ms %s", e.TTFT, e.Latency)})
	}
	errs = append(errs, e.Check(now, maxSkew)...)
	if len(errs) > 0 {
		return reqstats.Event{}, errs
	}
	return e, nil
}
