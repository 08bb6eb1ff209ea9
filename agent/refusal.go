package agent

import (
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/dspyfleet/dspyfleet/pkg/backoff"
)

// Refusals back off far longer than lost connections: a refused credential does not fix itself
// in seconds, and retrying it every 30 s only fills the control plane's security log.
// Each retry comes in the upper half of its step (backoff.Policy.Upper): never much sooner.
var refusedBackoff = backoff.Policy{Initial: 30 * time.Second, Max: 5 * time.Minute}

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
