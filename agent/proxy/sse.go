package proxy

import "bytes"

// sseScanner reads a text/event-stream a chunk at a time and feeds the data of each event to a
// jsonScanner, reset between events, so usage in the last events of a stream is found however
// long the stream runs. At most limit bytes of each event's data are scanned.
type sseScanner struct {
	json  *jsonScanner
	limit int64

	state  lineState
	name   []byte // the field name so far, up to len("data")+1 bytes
	fed    int64  // data bytes of the current event scanned
	lastCR bool   // the previous byte ended a line with \r
}

// lineState is where the scanner is in a line.
type lineState uint8

const (
	lineStart  lineState = iota // nothing read on this line
	fieldName                   // reading the field name
	valueStart                  // after "data:", where one space may follow
	dataValue                   // in a data value
	skipLine                    // in a comment or another field
)

// newSSEScanner returns a scanner that records into u.
func newSSEScanner(u *usage, limit int64) *sseScanner {
	return &sseScanner{json: newJSONScanner(u), limit: limit, name: make([]byte, 0, 5)}
}

// write scans the next bytes of the stream.
func (s *sseScanner) write(p []byte) {
	for len(p) > 0 {
		if s.state == dataValue || s.state == skipLine {
			end := bytes.IndexAny(p, "\r\n")
			if end < 0 {
				end = len(p)
			}
			if s.state == dataValue {
				s.data(p[:end])
			}
			if p = p[end:]; len(p) == 0 {
				return
			}
		}
		s.byte(p[0])
		p = p[1:]
	}
}

// byte handles one byte outside a data value or skipped line.
func (s *sseScanner) byte(c byte) {
	if c == '\n' && s.lastCR {
		s.lastCR = false // the \n of a \r\n
		return
	}
	s.lastCR = false
	switch {
	case c == '\r' || c == '\n':
		s.lastCR = c == '\r'
		s.endLine()
	case s.state == valueStart:
		s.state = dataValue
		if c != ' ' {
			s.data([]byte{c})
		}
	case c == ':':
		s.state = skipLine
		if string(s.name) == "data" {
			s.state = valueStart
		}
	case len(s.name) < cap(s.name):
		s.state = fieldName
		s.name = append(s.name, c)
	default:
		s.state = skipLine
	}
}

// endLine acts on the end of a line: a blank line ends the event; the lines of one event's data
// join with newlines.
func (s *sseScanner) endLine() {
	switch s.state {
	case lineStart:
		s.json.reset()
		s.fed = 0
	case dataValue, valueStart:
		s.data([]byte{'\n'})
	}
	s.state = lineStart
	s.name = s.name[:0]
}

// data scans bytes of the current event's data, up to the limit.
func (s *sseScanner) data(p []byte) {
	if n := s.limit - s.fed; int64(len(p)) > n {
		p = p[:n]
	}
	s.fed += int64(len(p))
	s.json.write(p)
}
