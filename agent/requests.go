package agent

import "sync/atomic"

// Requests counts the DSPy requests in flight on this host. Request intake (the sidecar proxy
// and the local reporting endpoint) calls Begin and the returned end function; drains wait for
// the count to reach zero, and reports carry it.
type Requests struct {
	inFlight atomic.Int64
}

// Begin records a request starting and returns the function that records its end; calling it
// more than once counts once.
func (r *Requests) Begin() (end func()) {
	r.inFlight.Add(1)
	var done atomic.Bool
	return func() {
		if done.CompareAndSwap(false, true) {
			r.inFlight.Add(-1)
		}
	}
}

// InFlight is the number of requests begun and not ended.
func (r *Requests) InFlight() int {
	return int(r.inFlight.Load())
}
