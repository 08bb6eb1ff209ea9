package agent

import (
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Refusals back off far longer than lost connections: a refused credential does not fix itself
// in seconds, and retrying it every 30 s only fills the control plane's security log.
const (
	refusedBackoffInitial = 30 * time.Second
	refusedBackoffMax     = 5 * time.Minute
)

// refused reports whether err is the control plane refusing this agent for good, as opposed to
// not reaching it: its credential was missing, wrong or not allowed (UNAUTHENTICATED,
// PERMISSION_DENIED), or the TLS handshake failed (a certificate not trusted or not accepted,
// or a server that does not speak TLS where the agent does).
func refused(err error) bool {
	if err == nil {
		return false
	}
	switch status.Code(err) {
	case codes.Unauthenticated, codes.PermissionDenied:
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "authentication handshake failed") || strings.Contains(msg, "x509: ") || strings.Contains(msg, "tls: ")
}

// refusedDelay is the wait before retrying after refusal number n (0-based): initial doubled n
// times, capped at max, jittered into its upper half (r is uniform in [0, 1)) so a fleet refused
// at once does not retry at once, and never much below the step it is at.
func refusedDelay(n int, initial, max time.Duration, r float64) time.Duration {
	d := initial
	for i := 0; i < n && d < max; i++ {
		d *= 2
	}
	d = min(d, max)
	return d/2 + time.Duration(r*float64(d/2))
}
