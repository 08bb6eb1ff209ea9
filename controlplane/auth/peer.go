package auth

import (
	"context"

	"google.golang.org/grpc/peer"
)

// PeerAddr returns the remote address of the call.
func PeerAddr(ctx context.Context) string {
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		return p.Addr.String()
	}
	return "unknown"
}
