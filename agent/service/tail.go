package service

import (
	"strings"
	"sync"
)

// tail keeps the last bytes written to it in a fixed ring; it is safe for concurrent use.
type tail struct {
	mu   sync.Mutex
	buf  []byte // the ring; len(buf) is the capacity
	next int    // where the next byte goes
	full bool   // the ring has wrapped, so buf[next:] holds the oldest bytes
}

func newTail(size int) *tail {
	return &tail{buf: make([]byte, size)}
}

// Write keeps the last len(t.buf) bytes of everything written; it never fails.
func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(p)
	if n >= len(t.buf) {
		copy(t.buf, p[n-len(t.buf):])
		t.next, t.full = 0, true
		return n, nil
	}
	k := copy(t.buf[t.next:], p)
	copy(t.buf, p[k:])
	t.full = t.full || t.next+n >= len(t.buf)
	t.next = (t.next + n) % len(t.buf)
	return n, nil
}

// String returns the kept bytes, oldest first, without a character cut in half at the start.
func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.full {
		return string(t.buf[:t.next])
	}
	return strings.ToValidUTF8(string(t.buf[t.next:])+string(t.buf[:t.next]), "")
}

// describeTail formats an output tail for an error message.
func describeTail(s string) string {
	if s == "" {
		return "output tail: (empty)"
	}
	return "output tail:\n" + s
}
