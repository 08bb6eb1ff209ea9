package auth

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/netip"
	"time"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// LoginMethod names dashboard logins in the audit trail.
const LoginMethod = "/ui/login"

// Login errors.
var (
	// ErrBadToken is a login with a token that is neither the admin nor the read-only token.
	ErrBadToken = errors.New("the token is neither the control plane's admin nor its read-only token")
	// ErrThrottled is a failed login whose token or address failed authentication too often;
	// the ThrottledError wrapping it says how long to wait.
	ErrThrottled = errors.New("login throttled")
)

// ThrottledError is a login refused unchecked because its token or address must still wait.
type ThrottledError struct {
	// Wait is how long until a login with that token or from that address is looked at again.
	Wait time.Duration
	msg  string
}

// Error implements error.
func (e *ThrottledError) Error() string { return ErrThrottled.Error() + ": " + e.msg }

// Unwrap makes a ThrottledError an ErrThrottled.
func (e *ThrottledError) Unwrap() error { return ErrThrottled }

// Login checks the token an operator gives the web dashboard and returns its role: the admin or
// read-only token logs in, anything else is refused. A token that authenticates nothing counts
// against the guard's records of that token and of remoteAddr's host and is recorded as a
// security event, as a refused gRPC call is; an agent's valid token is refused without counting.
// With authentication off every caller is RoleAnyone.
func (sec *Security) Login(ctx context.Context, remoteAddr, token string) (Role, error) {
	a := sec.Auth
	if !a.enabled {
		return RoleAnyone, nil
	}
	host := remoteAddr
	if h, _, err := net.SplitHostPort(remoteAddr); err == nil {
		host = h
	}
	if ap, err := netip.ParseAddrPort(remoteAddr); err == nil {
		ctx = peer.NewContext(ctx, &peer.Peer{Addr: net.TCPAddrFromAddrPort(ap)})
	}
	id, err := a.tokenIdentity(token, "")
	switch {
	case err == nil && (id.role == RoleAdmin || id.role == RoleRead):
		return id.role, nil
	case err == nil:
		a.denied(context.WithValue(ctx, identityKey{}, id), id, LoginMethod, ErrBadToken)
		return 0, ErrBadToken
	}
	if err := a.failed(ctx, a.guard.keys(host, token, true), LoginMethod, ErrBadToken); !errors.Is(err, ErrBadToken) {
		return 0, &ThrottledError{Wait: retryDelay(err), msg: status.Convert(err).Message()}
	}
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
