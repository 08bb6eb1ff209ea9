package auth

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/netip"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/peer"

	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// LoginMethod names dashboard logins in the audit trail.
const LoginMethod = "/ui/login"

// Login errors.
var (
	// ErrBadToken is a login with a token that is neither the admin nor the read-only token.
	ErrBadToken = errors.New("the token is neither the control plane's admin nor its read-only token")
	// ErrThrottled is a login from a host that failed authentication too often.
	ErrThrottled = errors.New("too many failed authentications from this address; wait a minute")
)

// Login checks the token an operator gives the web dashboard and returns its role: the admin or
// read-only token logs in, anything else (agent tokens included) is refused. A refusal counts
// against remoteAddr's allowance of failed authentications and is recorded as a security event,
// as a refused gRPC call is. With authentication off every caller is RoleAnyone.
func (sec *Security) Login(ctx context.Context, remoteAddr, token string) (Role, error) {
	a := sec.Auth
	if !a.enabled {
		return RoleAnyone, nil
	}
	host := remoteAddr
	if h, _, err := net.SplitHostPort(remoteAddr); err == nil {
		host = h
	}
	if a.guard.blocked(host) {
		a.throttled.Inc()
		return 0, ErrThrottled
	}
	for _, t := range a.tokens {
		if (t.role == RoleAdmin || t.role == RoleRead) && t.tok.Equal(token) {
			return t.role, nil
		}
	}
	if ap, err := netip.ParseAddrPort(remoteAddr); err == nil {
		ctx = peer.NewContext(ctx, &peer.Peer{Addr: net.TCPAddrFromAddrPort(ap)})
	}
	a.refused(ctx, host, fleetv1.SecurityEvent_SECURITY_EVENT_AUTH_FAILED, LoginMethod, ErrBadToken)
	return 0, ErrBadToken
}

// CanWrite reports whether r may call methods with write access.
func (r Role) CanWrite() bool { return Write.Allows(r) }

// InProcessCredentials are the transport credentials of an in-process client of the gRPC
// server (the dashboard's, over an in-memory listener): plaintext when the server is, else TLS
// without verifying the server's certificate, whose names need not cover an in-memory address;
// no bytes of that connection leave the process.
func (sec *Security) InProcessCredentials() credentials.TransportCredentials {
	if sec.tls == nil {
		return insecure.NewCredentials()
	}
	return credentials.NewTLS(&tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: true}) //nolint:gosec // in-memory connection to this process
}
