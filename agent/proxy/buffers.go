package proxy

import "sync"

// copyBufferSize is the size of the buffers the reverse proxy copies bodies through.
const copyBufferSize = 32 << 10

// bufferPool recycles copy buffers, which would otherwise be a 32 KiB allocation per request.
type bufferPool struct{ pool sync.Pool }

// Get returns a buffer, new or recycled.
func (b *bufferPool) Get() []byte {
	if buf, ok := b.pool.Get().(*[]byte); ok {
		return *buf
	}
	return make([]byte, copyBufferSize)
}

// Put recycles a buffer.
func (b *bufferPool) Put(buf []byte) { b.pool.Put(&buf) }
