package controlplane

import (
	"context"
	"net"
	"sync"

	"github.com/dspyfleet/dspyfleet/controlplane/check"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// limits bound what callers may send. Config sets them; each is enforced with a status naming
// the limit and its flag.
type limits struct {
	maxLabels          int
	maxLabelValueBytes int
	maxCommandParams   int
	maxReasonBytes     int
}

func (c Config) limits() limits {
	return limits{
		maxLabels: c.MaxLabels, maxLabelValueBytes: c.MaxLabelValueBytes,
		maxCommandParams: c.MaxCommandParams, maxReasonBytes: c.MaxReasonBytes,
	}
}

// checkCommandInput bounds what an admin call attaches to a command: the parameters (also
// checked by pkg/command against the kind's schema) and the reason.
func (l limits) checkCommandInput(params map[string]string, reason string) error {
	if len(params) > l.maxCommandParams {
		return check.Invalidf("params: %d parameters, at most %d are allowed (--max-command-params)", len(params), l.maxCommandParams)
	}
	if len(reason) > l.maxReasonBytes {
		return check.Invalidf("reason: %d bytes, at most %d are allowed (--max-reason-bytes)", len(reason), l.maxReasonBytes)
	}
	return nil
}

// firstErr returns the first non-nil error.
func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

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
