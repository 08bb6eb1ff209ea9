package fleet

import (
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/dspyfleet/dspyfleet/controlplane/check"
)

// maxRegisterBuckets bounds the credentials whose buckets are kept; beyond it, full (idle)
// buckets are dropped.
const maxRegisterBuckets = 10000

// refusalEventEvery is how often, at most, refusals of one credential are recorded as a
// security event while they go on, so a flood cannot fill the audit trail.
const refusalEventEvery = time.Minute

// RegisterLimit is a token bucket per credential on registering new node ids
// (--max-new-nodes-per-minute): it refills at PerMinute a minute and holds PerMinute. Known
// nodes reconnecting take nothing from it. It is safe for concurrent use.
type RegisterLimit struct {
	perMinute int
	mu        sync.Mutex
	buckets   map[string]*registerBucket
	refused   atomic.Uint64
}

// registerBucket is one credential's bucket and when its last refusal was recorded.
type registerBucket struct {
	lim        *rate.Limiter
	lastRecord time.Time
	refusing   bool
}

// NewRegisterLimit returns a limit of perMinute new node ids a minute per credential; nil (no
// limit) when perMinute is 0.
func NewRegisterLimit(perMinute int) *RegisterLimit {
	if perMinute <= 0 {
		return nil
	}
	return &RegisterLimit{perMinute: perMinute, buckets: make(map[string]*registerBucket)}
}

// PerMinute is the limit's rate.
func (l *RegisterLimit) PerMinute() int { return l.perMinute }

// Refused is the number of new node ids refused so far.
func (l *RegisterLimit) Refused() uint64 {
	if l == nil {
		return 0
	}
	return l.refused.Load()
}

// allow takes a token from credential's bucket at now. When it refuses, record says whether
// the refusal should be recorded as a security event: the first of a run of refusals, then at
// most one every refusalEventEvery.
func (l *RegisterLimit) allow(credential string, now time.Time) (ok, record bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[credential]
	if b == nil {
		if len(l.buckets) >= maxRegisterBuckets {
			for k, old := range l.buckets {
				if old.lim.TokensAt(now) >= float64(old.lim.Burst()) {
					delete(l.buckets, k)
				}
			}
		}
		b = &registerBucket{lim: rate.NewLimiter(rate.Limit(float64(l.perMinute)/60), l.perMinute)}
		l.buckets[credential] = b
	}
	if b.lim.AllowN(now, 1) {
		b.refusing = false
		return true, false
	}
	l.refused.Add(1)
	if !b.refusing || now.Sub(b.lastRecord) >= refusalEventEvery {
		b.refusing, b.lastRecord = true, now
		return false, true
	}
	return false, false
}

// RegisterRefusal is the error of a Hello whose new node id the RegisterLimit refused; it wraps
// check.ErrNewNodeRate.
type RegisterRefusal struct {
	// Record is whether to record the refusal as a security event (see RegisterLimit.allow).
	Record bool
	msg    string
}

// Error implements error.
func (e *RegisterRefusal) Error() string { return e.msg }

// Unwrap returns check.ErrNewNodeRate.
func (e *RegisterRefusal) Unwrap() error { return check.ErrNewNodeRate }
