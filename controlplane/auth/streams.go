package auth

import (
	"context"
	"net"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// streamLimiter bounds the streams open at once from one peer host.
type streamLimiter struct {
	max     int
	refused prometheus.Counter
	mu      sync.Mutex
	open    map[string]int
}

func newStreamLimiter(max int, refused prometheus.Counter) *streamLimiter {
	return &streamLimiter{max: max, refused: refused, open: map[string]int{}}
}

// interceptor refuses a stream when its peer host has max open; 0 means no limit.
func (l *streamLimiter) interceptor(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if l.max <= 0 {
		return handler(srv, ss)
	}
	host := peerHost(ss.Context())
	l.mu.Lock()
	if l.open[host] >= l.max {
		l.mu.Unlock()
		l.refused.Inc()
		return status.Errorf(codes.ResourceExhausted, "%s already has %d streams open, the most one peer may (--max-streams-per-peer)", host, l.max)
	}
	l.open[host]++
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		if l.open[host]--; l.open[host] == 0 {
			delete(l.open, host)
		}
		l.mu.Unlock()
	}()
	return handler(srv, ss)
}

// peerHost is the caller's IP address without the port: the unit of per-peer limits.
func peerHost(ctx context.Context) string {
	p, ok := peer.FromContext(ctx)
	if !ok || p.Addr == nil {
		return "unknown"
	}
	if host, _, err := net.SplitHostPort(p.Addr.String()); err == nil {
		return host
	}
	return p.Addr.String()
}
