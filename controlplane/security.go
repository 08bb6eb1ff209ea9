package controlplane

import (
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/auth"
	"google.golang.org/grpc"
)

// security holds the control plane's guards on the gRPC API: authentication and the access
// table.
type security struct {
	auth *authenticator
}

func newSecurity(s *Server) *security {
	return &security{auth: newAuthenticator(s.cfg, s.log)}
}

// interceptors returns the server's security interceptors, in the order they run after logging
// and panic recovery.
func (sec *security) interceptors() ([]grpc.UnaryServerInterceptor, []grpc.StreamServerInterceptor) {
	return []grpc.UnaryServerInterceptor{auth.UnaryServerInterceptor(sec.auth.authorize)},
		[]grpc.StreamServerInterceptor{auth.StreamServerInterceptor(sec.auth.authorize)}
}
