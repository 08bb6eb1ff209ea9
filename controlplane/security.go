package controlplane

import (
	"crypto/tls"
	"fmt"
	"net"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/auth"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/ratelimit"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/dspyfleet/dspyfleet/internal/credential"
)

// security holds the control plane's guards on its listeners and the gRPC API: TLS,
// authentication, the access table, the rate and stream limits and the audit trail.
type security struct {
	auth    *authenticator
	calls   *callLimiter
	streams *streamLimiter
	audit   *auditLog
	// limited counts calls refused by a limit, by limit.
	limited *prometheus.CounterVec
	// tls is the gRPC listener's TLS configuration; nil means plaintext.
	tls *tls.Config
}

func newSecurity(s *Server) (*security, error) {
	c := s.cfg
	limited := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dspyfleet_limited_calls_total",
		Help: "Calls refused by a limit: agent_rate, admin_rate, streams_per_peer, auth_failures.",
	}, []string{"limit"})
	events := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dspyfleet_security_events_total",
		Help: "Security events recorded in the audit trail, by event.",
	}, []string{"event"})
	authn, err := newAuthenticator(c, s.log, limited.WithLabelValues("auth_failures"))
	if err != nil {
		return nil, err
	}
	sec := &security{
		limited: limited,
		auth:    authn,
		calls: &callLimiter{
			limited: limited,
			agent:   bucketSpec{c.AgentRate, c.AgentBurst, "--agent-rate, --agent-burst"},
			admin:   bucketSpec{c.AdminRate, c.AdminBurst, "--admin-rate, --admin-burst"},
			now:     c.Now,
		},
		streams: newStreamLimiter(c.MaxStreamsPerPeer, limited.WithLabelValues("streams_per_peer")),
		audit:   &auditLog{store: s.store, now: c.Now, log: s.log, retention: c.AuditRetention, events: events},
	}
	sec.auth.event = sec.audit.securityEvent
	if s.cfg.TLSCert == "" {
		return sec, nil
	}
	certs, err := credential.NewCertReloader(s.cfg.TLSCert, s.cfg.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert, --tls-key: %w", err)
	}
	certs.OnReload = func(err error) {
		if err != nil {
			s.log.Error("the TLS certificate files changed but do not load; still serving the previous certificate", "cert", s.cfg.TLSCert, "err", err)
			return
		}
		s.log.Info("TLS certificate reloaded", "cert", s.cfg.TLSCert)
	}
	sec.tls = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: certs.GetCertificate}
	if s.cfg.ClientCA != "" {
		pool, err := credential.LoadCertPool(s.cfg.ClientCA)
		if err != nil {
			return nil, fmt.Errorf("--client-ca: %w", err)
		}
		// Admin callers authenticate by token and present no certificate; agents must, and
		// checkNode enforces that at Connect.
		sec.tls.ClientCAs, sec.tls.ClientAuth = pool, tls.VerifyClientCertIfGiven
	}
	return sec, nil
}

// collectors returns the security metrics, for the control plane's Prometheus registry.
func (sec *security) collectors() []prometheus.Collector {
	return []prometheus.Collector{sec.limited, sec.audit.events}
}

// serverOptions returns the gRPC server's transport credentials and security interceptors,
// which run after logging and panic recovery.
func (sec *security) serverOptions() []grpc.ServerOption {
	opts := []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(auth.UnaryServerInterceptor(sec.auth.authorize), ratelimit.UnaryServerInterceptor(sec.calls), sec.audit.unaryInterceptor),
		grpc.ChainStreamInterceptor(auth.StreamServerInterceptor(sec.auth.authorize), ratelimit.StreamServerInterceptor(sec.calls), sec.streams.interceptor, sec.audit.streamInterceptor),
	}
	if sec.tls != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(sec.tls)))
	}
	return opts
}

// httpListener wraps the HTTP listener in TLS when the gRPC listener has it; HTTP asks for no
// client certificate.
func (sec *security) httpListener(ln net.Listener) net.Listener {
	if sec.tls == nil {
		return ln
	}
	cfg := sec.tls.Clone()
	cfg.ClientCAs, cfg.ClientAuth = nil, tls.NoClientCert
	return tls.NewListener(ln, cfg)
}
