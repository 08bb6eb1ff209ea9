package agent

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestRefused(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want bool
	}{
		{status.Error(codes.Unauthenticated, "no credential"), true},
		{status.Error(codes.PermissionDenied, `the token is node "a"'s, not "b"'s`), true},
		{status.Error(codes.Unavailable, `connection error: desc = "transport: authentication handshake failed: tls: failed to verify certificate: x509: certificate signed by unknown authority"`), true},
		{status.Error(codes.Unavailable, "connection error: desc = \"transport: Error while dialing: dial tcp 127.0.0.1:7070: connect: connection refused\""), false},
		{status.Error(codes.Unavailable, "control plane is shutting down"), false},
		{status.Error(codes.ResourceExhausted, "too many new node ids"), false},
		{fmt.Errorf("session: %w", errors.New("EOF")), false},
		{nil, false},
	} {
		if got := refused(tt.err); got != tt.want {
			t.Errorf("refused(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

func TestRefusedDelay(t *testing.T) {
	for _, tt := range []struct {
		n        int
		r        float64
		min, max time.Duration
	}{
		{0, 0, 15 * time.Second, 15 * time.Second},
		{0, 0.999, 29 * time.Second, 30 * time.Second},
		{1, 0.5, 45 * time.Second, 45 * time.Second},
		{3, 0, 2 * time.Minute, 2 * time.Minute},
		{4, 0.999, 4*time.Minute + 59*time.Second, 5 * time.Minute},
		{40, 0, 150 * time.Second, 150 * time.Second},
	} {
		got := refusedBackoff.Upper(tt.n, tt.r)
		if got < tt.min || got > tt.max {
			t.Errorf("refusedBackoff.Upper(%d, r=%g) = %s, want %s..%s", tt.n, tt.r, got, tt.min, tt.max)
		}
	}
}
