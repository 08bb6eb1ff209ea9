package proxy

import (
	"io"
	"sync/atomic"
	"time"
)

// inspector scans response bytes for usage as they pass.
type inspector interface {
	write(p []byte)
}

// limitedInspector scans only the first bytes of a body.
type limitedInspector struct {
	next inspector
	left int64
}

// write passes on what is left of the allowance.
func (l *limitedInspector) write(p []byte) {
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	l.left -= int64(len(p))
	if len(p) > 0 {
		l.next.write(p)
	}
}

// responseBody measures the upstream's response body as the reverse proxy copies it to the
// client: the first byte's time, the byte count, a read error, and what the inspector finds.
// Only the handler's goroutine reads it.
type responseBody struct {
	io.ReadCloser
	x   *exchange
	now func() time.Time // the proxy's clock
}

// Read reads from the upstream and measures what it got.
func (b *responseBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	x := b.x
	if n > 0 {
		if x.firstByte.IsZero() {
			x.firstByte = b.now()
		}
		x.bytesOut += int64(n)
		if x.inspect != nil {
			x.inspect.write(p[:n])
		}
	}
	if err != nil && err != io.EOF {
		x.upstreamErr = err
	}
	return n, err
}

// requestBody counts the bytes of a request body. The transport may read it from another
// goroutine, so the count is atomic.
type requestBody struct {
	io.ReadCloser
	n *atomic.Int64
}

// Read reads from the client and counts the bytes.
func (b *requestBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}
