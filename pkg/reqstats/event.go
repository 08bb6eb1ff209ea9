package reqstats

import (
	"fmt"
	"time"
	"unicode"
	"unicode/utf8"
)

// MaxNameLen bounds a program, module or model name, in bytes.
const MaxNameLen = 128

// Event is one completed DSPy request.
type Event struct {
	Time         time.Time     // when the request completed; zero = unknown
	Program      string        // DSPy program name
	Module       string        // DSPy module within the program
	Model        string        // e.g. "openai/gpt-4o-mini"
	Latency      time.Duration // end to end
	TTFT         time.Duration // time to first token; 0 = unknown
	InputTokens  int64
	OutputTokens int64
	Cache        CacheState
	Error        bool
	Status       int // HTTP-like status; 0 = unknown
}

// CacheState says whether DSPy's cache answered a request.
type CacheState uint8

// The cache states.
const (
	CacheUnknown CacheState = iota // not reported
	CacheHit                       // served from DSPy's cache; no tokens bought
	CacheMiss                      // sent to the model
)

// FieldError names one bad field of an Event by its JSON name.
type FieldError struct {
	Field   string // latency_ms, ttft_ms, input_tokens, output_tokens, ts, status, program, module or model
	Message string
}

// Error returns "field: message".
func (f FieldError) Error() string { return f.Field + ": " + f.Message }

// Check validates an event's values and returns one FieldError per bad field, nil when the event
// is good. It refuses negative durations and token counts, a time more than maxSkew ahead of now
// (a zero time means unknown and passes), a status other than 0 or 100-599, and program, module
// or model names longer than MaxNameLen bytes, not valid UTF-8, or holding control characters.
// Empty names pass: they count as "unknown". Durations cannot be NaN; code that builds them from
// floating-point milliseconds must refuse NaN and infinities itself.
func (e Event) Check(now time.Time, maxSkew time.Duration) []FieldError {
	var errs []FieldError
	bad := func(field, format string, args ...any) {
		errs = append(errs, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	if !e.Time.IsZero() && e.Time.After(now.Add(maxSkew)) {
		bad("ts", "%s is more than %s ahead of now (%s)", e.Time.Format(time.RFC3339Nano), maxSkew, now.Format(time.RFC3339Nano))
	}
	for _, n := range []struct{ field, value string }{
		{"program", e.Program}, {"module", e.Module}, {"model", e.Model},
	} {
		if msg := checkName(n.value); msg != "" {
			bad(n.field, "%s", msg)
		}
	}
	if e.Latency < 0 {
		bad("latency_ms", "%s is negative", e.Latency)
	}
	if e.TTFT < 0 {
		bad("ttft_ms", "%s is negative", e.TTFT)
	}
	if e.InputTokens < 0 {
		bad("input_tokens", "%d is negative", e.InputTokens)
	}
	if e.OutputTokens < 0 {
		bad("output_tokens", "%d is negative", e.OutputTokens)
	}
	if e.Status != 0 && (e.Status < 100 || e.Status > 599) {
		bad("status", "%d is not 0 (unknown) or 100-599", e.Status)
	}
	return errs
}

// checkName returns what is wrong with a name, or "".
func checkName(s string) string {
	switch {
	case len(s) > MaxNameLen:
		return fmt.Sprintf("is %d bytes, longer than %d", len(s), MaxNameLen)
	case !utf8.ValidString(s):
		return "is not valid UTF-8"
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return fmt.Sprintf("holds control character %U", r)
		}
	}
	return ""
}
