package controlplane

import (
	"errors"
	"fmt"
	"net"
	"strings"
)

// checkExposure refuses to serve on a non-loopback address without TLS, or the gRPC API
// without authentication, unless Insecure is set; then it warns, at every start. With
// LoopbackOnly (--dev) a non-loopback address is refused whatever the other settings.
func (s *Server) checkExposure(grpcAddr, httpAddr net.Addr) error {
	var problems, errs []string
	for _, l := range []struct {
		flag string
		addr net.Addr
		auth bool
	}{{"--grpc-listen", grpcAddr, true}, {"--http-listen", httpAddr, false}} {
		if isLoopback(l.addr) {
			continue
		}
		if s.cfg.LoopbackOnly {
			errs = append(errs, fmt.Sprintf("%s %s is not a loopback address; --dev serves on loopback only", l.flag, l.addr))
			continue
		}
		if s.sec.Plaintext() {
			problems = append(problems, fmt.Sprintf("%s %s is not a loopback address and has no TLS (--tls-cert, --tls-key)", l.flag, l.addr))
		}
		if l.auth && !s.sec.Authenticates() {
			problems = append(problems, fmt.Sprintf("%s %s is not a loopback address and calls need no token (--agent-token-file, --admin-token-file, --read-token-file or --client-ca)", l.flag, l.addr))
		}
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	if len(problems) == 0 {
		return nil
	}
	if !s.cfg.Insecure {
		return fmt.Errorf("%s; anyone who can reach it could read the fleet or drain and restart its nodes. Configure them, or pass --insecure to accept that", strings.Join(problems, "; "))
	}
	for _, p := range problems {
		s.log.Warn("INSECURE: "+p+"; anyone who can reach it can read the fleet or drain and restart its nodes (--insecure)", "insecure", true)
	}
	return nil
}

// isLoopback reports whether a bound address accepts connections from this host only.
func isLoopback(a net.Addr) bool {
	tcp, ok := a.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}
