package store

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// WriteError is the outcome of the store's last write when it failed: the file could not take a
// commit (a full disk, a read-only or failing device). The next successful write clears it.
type WriteError struct {
	// Err is the error of the last failed write.
	Err error
	// At is when the last write failed.
	At time.Time
	// Since is when the current run of failed writes began.
	Since time.Time
}

// Error names the failure and how long writes have failed.
func (e *WriteError) Error() string {
	return fmt.Sprintf("%v (writes failing since %s)", e.Err, e.Since.UTC().Format(time.RFC3339))
}

// Unwrap returns the last write's error.
func (e *WriteError) Unwrap() error { return e.Err }

// writeHealth tracks the outcome of the store's writes.
type writeHealth struct {
	mu       sync.Mutex
	last     atomic.Pointer[WriteError]
	failures atomic.Uint64
}

// record notes the outcome of one commit: err nil clears the failure.
func (h *writeHealth) record(err error, now time.Time) {
	if err == nil {
		if h.last.Load() != nil {
			h.mu.Lock()
			h.last.Store(nil)
			h.mu.Unlock()
		}
		return
	}
	h.failures.Add(1)
	h.mu.Lock()
	defer h.mu.Unlock()
	since := now
	if prev := h.last.Load(); prev != nil {
		since = prev.Since
	}
	h.last.Store(&WriteError{Err: err, At: now, Since: since})
}

// WriteErr returns a *WriteError while the store's last write failed, nil once a write has
// succeeded again (and before any write failed). Errors returned by the function given to Update
// are the caller's and are not counted: only a transaction that could not be committed is.
func (s *Store) WriteErr() error {
	if e := s.health.last.Load(); e != nil {
		return e
	}
	return nil
}

// WriteFailures is how many writes have failed since the store was opened.
func (s *Store) WriteFailures() uint64 { return s.health.failures.Load() }
