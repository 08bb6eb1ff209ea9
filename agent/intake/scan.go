package intake

import (
	"fmt"
	"strconv"
)

// maxDepth bounds how deeply values may nest inside a reported object.
const maxDepth = 64

// scanner checks JSON syntax as strictly as encoding/json does (RFC 8259, with any bytes
// allowed inside strings) without decoding anything: the intake reads the top-level members
// itself and hands each raw value to its field.
type scanner struct {
	b     []byte
	i     int
	depth int
}

// syntaxError says why the input is not JSON.
type syntaxError struct{ msg string }

func (e *syntaxError) Error() string { return e.msg }

// members scans b, which must hold exactly one JSON value. When it is an object, member is
// called with each key (still quoted, escapes and all) and raw value; otherwise isObject is
// false. err is non-nil when b is not exactly one JSON value.
func members(b []byte, member func(key, value []byte)) (isObject bool, err error) {
	s := scanner{b: b}
	s.space()
	if s.i < len(b) && b[s.i] == '{' {
		isObject = true
		err = s.object(member)
	} else {
		err = s.value()
	}
	if err == nil {
		if s.space(); s.i < len(b) {
			err = s.unexpected("after the value")
		}
	}
	return isObject, err
}

// space skips whitespace.
func (s *scanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\r', '\n':
			s.i++
		default:
			return
		}
	}
}

// unexpected reports the byte at s.i, or the end of the input.
func (s *scanner) unexpected(context string) error {
	if s.i >= len(s.b) {
		return &syntaxError{"the value is cut short"}
	}
	return &syntaxError{fmt.Sprintf("unexpected %s at byte %d %s", strconv.QuoteRune(rune(s.b[s.i])), s.i+1, context)}
}

// value scans any value.
func (s *scanner) value() error {
	if s.i >= len(s.b) {
		return s.unexpected("")
	}
	switch c := s.b[s.i]; {
	case c == '"':
		return s.string()
	case c == '{':
		return s.object(nil)
	case c == '[':
		return s.array()
	case c == '-' || '0' <= c && c <= '9':
		return s.number()
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	}
	return s.unexpected("looking for a value")
}

// object scans an object, calling member (when not nil) with each key and raw value.
func (s *scanner) object(member func(key, value []byte)) error {
	if s.depth++; s.depth > maxDepth {
		return &syntaxError{fmt.Sprintf("nested more than %d deep", maxDepth)}
	}
	s.i++ // {
	s.space()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		s.depth--
		return nil
	}
	for {
		if s.i >= len(s.b) || s.b[s.i] != '"' {
			return s.unexpected("looking for a key")
		}
		k := s.i
		if err := s.string(); err != nil {
			return err
		}
		key := s.b[k:s.i]
		if s.space(); s.i >= len(s.b) || s.b[s.i] != ':' {
			return s.unexpected("after a key")
		}
		s.i++
		s.space()
		v := s.i
		if err := s.value(); err != nil {
			return err
		}
		if member != nil {
			member(key, s.b[v:s.i])
		}
		s.space()
		if s.i >= len(s.b) {
			return s.unexpected("")
		}
		switch s.b[s.i] {
		case ',':
			s.i++
			s.space()
		case '}':
			s.i++
			s.depth--
			return nil
		default:
			return s.unexpected("after an object member")
		}
	}
}

// array scans an array.
func (s *scanner) array() error {
	if s.depth++; s.depth > maxDepth {
		return &syntaxError{fmt.Sprintf("nested more than %d deep", maxDepth)}
	}
	s.i++ // [
	s.space()
	if s.i < len(s.b) && s.b[s.i] == ']' {
		s.i++
		s.depth--
		return nil
	}
	for {
		if err := s.value(); err != nil {
			return err
		}
		s.space()
		if s.i >= len(s.b) {
			return s.unexpected("")
		}
		switch s.b[s.i] {
		case ',':
			s.i++
			s.space()
		case ']':
			s.i++
			s.depth--
			return nil
		default:
			return s.unexpected("after an array element")
		}
	}
}

// string scans a string.
func (s *scanner) string() error {
	s.i++ // "
	for s.i < len(s.b) {
		switch c := s.b[s.i]; {
		case c == '"':
			s.i++
			return nil
		case c == '\\':
			s.i++
			if s.i >= len(s.b) {
				return s.unexpected("")
			}
			switch s.b[s.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i++
			case 'u':
				s.i++
				for range 4 {
					if s.i >= len(s.b) || !isHex(s.b[s.i]) {
						return s.unexpected("in a \\u escape")
					}
					s.i++
				}
			default:
				return s.unexpected("in an escape")
			}
		case c < 0x20:
			return s.unexpected("in a string")
		default:
			s.i++
		}
	}
	return s.unexpected("")
}

// isHex reports whether c is a hexadecimal digit.
func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

// number scans a number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) number() error {
	if s.b[s.i] == '-' {
		s.i++
	}
	switch {
	case s.i < len(s.b) && s.b[s.i] == '0':
		s.i++
	case s.i < len(s.b) && '1' <= s.b[s.i] && s.b[s.i] <= '9':
		s.digits()
	default:
		return s.unexpected("in a number")
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if !s.digits() {
			return s.unexpected("after a decimal point")
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if !s.digits() {
			return s.unexpected("in an exponent")
		}
	}
	return nil
}

// digits skips digits and reports whether there was one.
func (s *scanner) digits() bool {
	start := s.i
	for s.i < len(s.b) && '0' <= s.b[s.i] && s.b[s.i] <= '9' {
		s.i++
	}
	return s.i > start
}

// literal scans true, false or null.
func (s *scanner) literal(lit string) error {
	for k := range len(lit) {
		if s.i >= len(s.b) || s.b[s.i] != lit[k] {
			return s.unexpected("in " + lit)
		}
		s.i++
	}
	return nil
}
