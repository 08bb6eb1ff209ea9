package proxy

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// jsonScanner reads a JSON document a chunk at a time and picks out token usage and the model
// without keeping the document. It tracks only the nesting of objects and arrays, the key each
// open object is at, and the bytes of the current key or interesting scalar. It does not
// validate: on input that makes no sense it stops looking until reset.
//
// A member counts as usage when its object is the value of a "usage" key, at any depth
// (OpenAI puts usage at the top, Anthropic's streams also inside "message"); the first
// non-empty "model" string anywhere is the model.
type jsonScanner struct {
	u *usage

	stack  []frame // open objects and arrays, innermost last
	state  scanState
	escape bool   // the last string byte was a backslash
	keep   bool   // the current string or literal is collected into tok
	tok    []byte // the current key, model string or usage number
	broken bool   // stop until reset
}

// frame is one open object or array.
type frame struct {
	object    bool
	expectKey bool    // an object before its next key
	key       keyKind // the key of the member being read
	usage     bool    // this object is the value of a "usage" key
}

// scanState is where the scanner is in the token stream.
type scanState uint8

const (
	betweenTokens scanState = iota
	inString
	inLiteral
)

// keyKind is what a key means to the scanner.
type keyKind uint8

const (
	keyOther keyKind = iota
	keyUsage
	keyModel
	keyInput
	keyOutput
)

// Bounds on what the scanner keeps.
const (
	maxScanDepth = 64
	maxToken     = 512 // longer keys, model names and numbers are none the scanner wants
)

// newJSONScanner returns a scanner that records into u.
func newJSONScanner(u *usage) *jsonScanner {
	return &jsonScanner{u: u, stack: make([]frame, 0, 8)}
}

// reset readies s for a new document.
func (s *jsonScanner) reset() {
	s.stack = s.stack[:0]
	s.state = betweenTokens
	s.escape, s.keep, s.broken = false, false, false
	s.tok = s.tok[:0]
}

// write scans the next bytes of the document.
func (s *jsonScanner) write(p []byte) {
	for i := 0; i < len(p) && !s.broken; {
		switch s.state {
		case inString:
			i = s.string(p, i)
		case inLiteral:
			i = s.literal(p, i)
		default:
			s.structural(p[i])
			i++
		}
	}
}

// structural handles a byte between tokens.
func (s *jsonScanner) structural(c byte) {
	top := s.top()
	switch c {
	case ' ', '\t', '\r', '\n':
	case '{', '[':
		if len(s.stack) == maxScanDepth {
			s.broken = true
			return
		}
		f := frame{object: c == '{', expectKey: c == '{'}
		f.usage = f.object && top != nil && top.object && top.key == keyUsage
		s.stack = append(s.stack, f)
	case '}', ']':
		if top == nil || top.object != (c == '}') {
			s.broken = true
			return
		}
		s.stack = s.stack[:len(s.stack)-1]
	case ':':
		if top == nil || !top.object || !top.expectKey {
			s.broken = true
			return
		}
		top.expectKey = false
	case ',':
		if top != nil && top.object {
			top.expectKey, top.key = true, keyOther
		}
	case '"':
		s.state = inString
		isKey := top != nil && top.object && top.expectKey
		s.keep = isKey || top != nil && top.object && top.key == keyModel && s.u.model == ""
		s.tok = s.tok[:0]
	default:
		s.state = inLiteral
		s.keep = top != nil && top.usage && (top.key == keyInput || top.key == keyOutput)
		s.tok = append(s.tok[:0], c)
	}
}

// string consumes string bytes from p[i:] and returns where it stopped.
func (s *jsonScanner) string(p []byte, i int) int {
	for i < len(p) {
		if s.escape {
			s.escape = false
			s.collect(p[i : i+1])
			i++
			continue
		}
		j := bytes.IndexAny(p[i:], `"\`)
		if j < 0 {
			s.collect(p[i:])
			return len(p)
		}
		s.collect(p[i : i+j])
		i += j
		if p[i] == '\\' {
			s.escape = true
			s.collect(p[i : i+1])
			i++
			continue
		}
		s.endString()
		return i + 1
	}
	return i
}

// literal consumes number, true, false or null bytes from p[i:] and returns where it stopped.
func (s *jsonScanner) literal(p []byte, i int) int {
	for ; i < len(p); i++ {
		switch c := p[i]; c {
		case ' ', '\t', '\r', '\n', ',', '}', ']':
			s.endLiteral()
			return i // the delimiter is structural
		default:
			s.collect(p[i : i+1])
		}
	}
	return i
}

// collect keeps bytes of the current token when they matter, up to maxToken.
func (s *jsonScanner) collect(b []byte) {
	if !s.keep {
		return
	}
	if len(s.tok)+len(b) > maxToken {
		s.keep = false
		s.tok = s.tok[:0]
		return
	}
	s.tok = append(s.tok, b...)
}

// endString acts on a complete key or string value.
func (s *jsonScanner) endString() {
	s.state = betweenTokens
	top := s.top()
	if top == nil || !top.object {
		return
	}
	if top.expectKey {
		top.key = keyOther
		if s.keep {
			top.key = kindOf(s.tok)
		}
		return
	}
	if s.keep && top.key == keyModel && len(s.tok) > 0 {
		s.u.model = unescape(s.tok)
	}
}

// endLiteral acts on a complete number, true, false or null.
func (s *jsonScanner) endLiteral() {
	s.state = betweenTokens
	top := s.top()
	if !s.keep || top == nil {
		return
	}
	n, err := strconv.ParseInt(string(s.tok), 10, 64)
	if err != nil || n < 0 {
		return
	}
	if top.key == keyInput {
		s.u.input = n
	} else {
		s.u.output = n
	}
}

// top is the innermost open object or array, nil at the top level.
func (s *jsonScanner) top() *frame {
	if len(s.stack) == 0 {
		return nil
	}
	return &s.stack[len(s.stack)-1]
}

// kindOf says what a key (raw, without quotes) means.
func kindOf(key []byte) keyKind {
	switch string(key) {
	case "usage":
		return keyUsage
	case "model":
		return keyModel
	case "prompt_tokens", "input_tokens":
		return keyInput
	case "completion_tokens", "output_tokens":
		return keyOutput
	}
	return keyOther
}

// unescape turns the raw bytes of a JSON string into text; bytes that are not a valid string
// come back as they are.
func unescape(raw []byte) string {
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw)
	}
	var s string
	quoted := append(append([]byte{'"'}, raw...), '"')
	if err := json.Unmarshal(quoted, &s); err != nil {
		return string(raw)
	}
	return s
}
