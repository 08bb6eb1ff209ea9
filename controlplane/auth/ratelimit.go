package auth

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"
	"google.golang.org/grpc"
)

// maxBuckets bounds the token buckets kept; beyond it, full (idle) buckets are dropped.
const maxBuckets = 10000

// bucketSpec is a token bucket's refill rate per second and size.
type bucketSpec struct {
	rate  float64
	burst int
	flag  string
}

// buckets is a set of token buckets by key.
type buckets struct {
	mu sync.Mutex
	m  map[string]*rate.Limiter
}

// get returns the bucket of key, creating it with spec.
func (b *buckets) get(key string, spec bucketSpec) *rate.Limiter {
	b.mu.Lock()
	defer b.mu.Unlock()
	if l, ok := b.m[key]; ok {
		return l
	}
	if b.m == nil {
		b.m = map[string]*rate.Limiter{}
	}
	if len(b.m) >= maxBuckets {
		for k, l := range b.m {
			if l.Tokens() >= float64(l.Burst()) {
				delete(b.m, k)
			}
		}
	}
	l := rate.NewLimiter(rate.Limit(spec.rate), spec.burst)
	b.m[key] = l
	return l
}

// callLimiter is the API's ratelimit.Limiter: a token bucket per authenticated identity. An
// agent is limited per node (its certificate or per-node token) or per peer host (the shared
// agent token), an admin or read-only caller per token. Public and data-plane methods, and
// every call when authentication is off (loopback or --insecure), are not limited.
type callLimiter struct {
	agent, admin bucketSpec
	now          func() time.Time // the clock the buckets refill by: Config.Now
	b            buckets
	limited      *prometheus.CounterVec
}

// Limit implements ratelimit.Limiter.
func (l *callLimiter) Limit(ctx context.Context) error {
	id, ok := IdentityFrom(ctx)
	if !ok || id.role == RoleAnyone {
		return nil
	}
	if method, _ := grpc.Method(ctx); AccessRules[method] == DataPlane {
		return nil
	}
	key, spec, limit := id.Name, l.admin, "admin_rate"
	if id.role == RoleAgent {
		spec, limit = l.agent, "agent_rate"
		key = "node:" + id.nodeID
		if id.nodeID == "" {
			key = "agent@" + peerHost(ctx)
		}
	}
	if spec.rate <= 0 {
		return nil
	}
	if !l.b.get(key, spec).AllowN(l.now(), 1) {
		l.limited.WithLabelValues(limit).Inc()
		return fmt.Errorf("%s made more than %g calls per second with bursts of %d (%s)", key, spec.rate, spec.burst, spec.flag)
	}
	return nil
}
