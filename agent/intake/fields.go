package intake

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
)

// The fields of a reported request parse their raw JSON value themselves and keep what is wrong
// with it in bad, so one pass over a line names every bad field. A value reaches parse only after
// the scanner has checked its syntax. A JSON null is the same as leaving the field out.

// maxDuration bounds latency_ms and ttft_ms; a longer DSPy request is a reporting bug.
const maxDuration = 24 * time.Hour

// maxUnixSeconds is the last Unix second time.Time holds as nanoseconds (year 2262).
const maxUnixSeconds = math.MaxInt64 / int64(time.Second)

// field is what every field type shares.
type field struct {
	seen bool   // present
	set  bool   // present and not null
	bad  string // why the value was refused; "" when good
}

// start marks f seen, and set unless the value is null or the field is repeated; it reports
// whether the value needs no parsing.
func (f *field) start(b []byte) (done bool) {
	if f.seen {
		f.refuse("appears more than once")
		return true
	}
	f.seen = true
	if string(b) == "null" {
		return true
	}
	f.set = true
	return false
}

// refuse records why the value was refused.
func (f *field) refuse(format string, args ...any) { f.bad = fmt.Sprintf(format, args...) }

// kind names the JSON type of a value for messages.
func kind(b []byte) string {
	switch b[0] {
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 'n':
		return "null"
	}
	return "a number"
}

// isNumber reports whether b, a valid JSON value, is a number.
func isNumber(b []byte) bool { return b[0] == '-' || b[0] >= '0' && b[0] <= '9' }

// millisField is a duration in milliseconds: a finite number from 0 to maxDuration.
type millisField struct {
	field
	d time.Duration
}

// parse reads the raw value b.
func (f *millisField) parse(b []byte) {
	if f.start(b) {
		return
	}
	if !isNumber(b) {
		f.refuse("must be a number of milliseconds, got %s", kind(b))
		return
	}
	ms, err := strconv.ParseFloat(string(b), 64)
	switch {
	case err != nil:
		f.refuse("%s is out of range", clip(b))
	case ms < 0:
		f.refuse("%s is negative", clip(b))
	case ms > float64(maxDuration/time.Millisecond):
		f.refuse("%s ms is longer than %s", clip(b), maxDuration)
	default:
		f.d = time.Duration(ms * float64(time.Millisecond))
	}
}

// intField is an integer.
type intField struct {
	field
	n int64
}

// parse reads the raw value b.
func (f *intField) parse(b []byte) {
	if f.start(b) {
		return
	}
	if !isNumber(b) {
		f.refuse("must be an integer, got %s", kind(b))
		return
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	switch {
	case errors.Is(err, strconv.ErrRange):
		f.refuse("%s is out of range", clip(b))
	case err != nil:
		f.refuse("%s is not an integer", clip(b))
	default:
		f.n = n
	}
}

// timeField is RFC 3339 text or Unix seconds.
type timeField struct {
	field
	t time.Time
}

// parse reads the raw value b.
func (f *timeField) parse(b []byte) {
	if f.start(b) {
		return
	}
	switch {
	case b[0] == '"':
		s, _ := unquote(b)
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			f.refuse("%q is not RFC 3339 time", clip([]byte(s)))
			return
		}
		f.t = t
	case isNumber(b):
		sec, err := strconv.ParseFloat(string(b), 64)
		if err != nil || sec < 0 || sec >= float64(maxUnixSeconds) {
			f.refuse("%s is out of range for Unix seconds", clip(b))
			return
		}
		whole := math.Floor(sec)
		f.t = time.Unix(int64(whole), int64((sec-whole)*float64(time.Second)))
	default:
		f.refuse("must be RFC 3339 text or Unix seconds, got %s", kind(b))
	}
}

// stringField is a string.
type stringField struct {
	field
	s string
}

// parse reads the raw value b.
func (f *stringField) parse(b []byte) {
	if f.start(b) {
		return
	}
	s, ok := unquote(b)
	if !ok {
		f.refuse("must be a string, got %s", kind(b))
		return
	}
	f.s = s
}

// boolField is true or false.
type boolField struct {
	field
	v bool
}

// parse reads the raw value b.
func (f *boolField) parse(b []byte) {
	if f.start(b) {
		return
	}
	switch string(b) {
	case "true":
		f.v = true
	case "false":
	default:
		f.refuse("must be true or false, got %s", kind(b))
	}
}

// errorField is a boolean or a message; a non-empty message means the request failed.
type errorField struct {
	field
	v bool
}

// parse reads the raw value b.
func (f *errorField) parse(b []byte) {
	if f.start(b) {
		return
	}
	switch {
	case string(b) == "true":
		f.v = true
	case string(b) == "false":
	case b[0] == '"':
		f.v = string(b) != `""`
	default:
		f.refuse("must be a boolean or a message, got %s", kind(b))
	}
}

// unquote returns the text of b, a valid JSON value, when it is a string.
func unquote(b []byte) (string, bool) {
	text, ok := unquoteBytes(b)
	return string(text), ok
}

// unquoteBytes is unquote without a copy when b holds no escapes.
func unquoteBytes(b []byte) ([]byte, bool) {
	if b[0] != '"' {
		return nil, false
	}
	inner := b[1 : len(b)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return inner, true
	}
	var s string
	json.Unmarshal(b, &s) // cannot fail: the scanner has checked b
	return []byte(s), true
}

// maxEcho bounds the bytes of a client's value repeated in a message.
const maxEcho = 64

// clip shortens a value for a message.
func clip(b []byte) string {
	if len(b) > maxEcho {
		return string(b[:maxEcho]) + "…"
	}
	return string(b)
}
