package credential

import (
	"context"

	"google.golang.org/grpc/credentials"
)

// bearer attaches "authorization: Bearer <token>" to every call.
type bearer struct {
	tok        Token
	requireTLS bool
}

// Bearer returns per-call credentials sending t as "authorization: Bearer <token>" metadata,
// the form grpcurl sends with -H. With requireTLS, gRPC refuses to send it over a connection
// without transport security; without it the token also travels in the clear, which the
// control plane allows only on loopback or with --insecure.
func Bearer(t Token, requireTLS bool) credentials.PerRPCCredentials {
	return bearer{tok: t, requireTLS: requireTLS}
}

// GetRequestMetadata implements credentials.PerRPCCredentials.
func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + b.tok.v}, nil
}

// RequireTransportSecurity implements credentials.PerRPCCredentials.
func (b bearer) RequireTransportSecurity() bool { return b.requireTLS }
