package auth

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/auth"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/ratelimit"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/dspyfleet/dspyfleet/controlplane/store"
	"github.com/dspyfleet/dspyfleet/internal/credential"
)

// Security holds the control plane's guards on its listeners and the gRPC API: TLS,
// authentication, the access table, the rate and stream limits and the audit trail.
type Security struct {
	Auth    *authenticator
	calls   *callLimiter
	streams *streamLimiter
	Audit   *AuditLog
	// limited counts calls refused by a limit, by limit.
	limited *prometheus.CounterVec
	// tls is the gRPC listener's TLS configuration; nil means plaintext.
	tls *tls.Config
}

// New builds the guards from c; the audit trail is kept in st.
func New(c Config, st *store.Store, log *slog.Logger) (*Security, error) {
	limited := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dspyfleet_limited_calls_total",
		Help: "Calls refused by a limit: agent_rate, admin_rate, streams_per_peer, auth_failures.",
	}, []string{"limit"})
	events := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dspyfleet_security_events_total",
		Help: "Security events recorded in the audit trail, by event.",
	}, []string{"event"})
	authn, err := newAuthenticator(c, log, limited.WithLabelValues("auth_failures"))
	if err != nil {
		return nil, err
	}
	sec := &Security{
		limited: limited,
		Auth:    authn,
		calls: &callLimiter{
			limited: limited,
			agent:   bucketSpec{c.AgentRate, c.AgentBurst, "--agent-rate, --agent-burst"},
			admin:   bucketSpec{c.AdminRate, c.AdminBurst, "--admin-rate, --admin-burst"},
			now:     c.Now,
		},
		streams: newStreamLimiter(c.MaxStreamsPerPeer, limited.WithLabelValues("streams_per_peer")),
		Audit:   &AuditLog{store: st, now: c.Now, log: log, retention: c.AuditRetention, events: events},
	}
	sec.Auth.event = sec.Audit.SecurityEvent
	if sec.Auth.enabled {
		if sec.Auth.bindings, err = loadBindings(st); err != nil {
			return nil, err
		}
	}
	if c.TLSCert == "" {
		return sec, nil
	}
	certs, err := credential.NewCertReloader(c.TLSCert, c.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert, --tls-key: %w", err)
	}
	certs.OnReload = func(err error) {
		if err != nil {
			log.Error("the TLS certificate files changed but do not load; still serving the previous certificate", "cert", c.TLSCert, "err", err)
			return
		}
		log.Info("TLS certificate reloaded", "cert", c.TLSCert)
	}
	sec.tls = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: certs.GetCertificate}
	if c.ClientCA != "" {
		pool, err := credential.LoadCertPool(c.ClientCA)
		if err != nil {
			return nil, fmt.Errorf("--client-ca: %w", err)
		}
		// Admin callers authenticate by token and present no certificate; agents must, and
		// CheckNode enforces that at Connect.
		sec.tls.ClientCAs, sec.tls.ClientAuth = pool, tls.VerifyClientCertIfGiven
	}
	return sec, nil
}

// Collectors returns the security metrics, for the control plane's Prometheus registry.
func (sec *Security) Collectors() []prometheus.Collector {
	return []prometheus.Collector{sec.limited, sec.Audit.events}
}

// ServerOptions returns the gRPC server's transport credentials and security interceptors,
// which run after logging and panic recovery.
func (sec *Security) ServerOptions() []grpc.ServerOption {
	opts := []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(auth.UnaryServerInterceptor(sec.Auth.authorize), ratelimit.UnaryServerInterceptor(sec.calls), sec.Audit.unaryInterceptor),
		grpc.ChainStreamInterceptor(auth.StreamServerInterceptor(sec.Auth.authorize), ratelimit.StreamServerInterceptor(sec.calls), sec.streams.interceptor, sec.Audit.streamInterceptor),
	}
	if sec.tls != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(sec.tls)))
	}
	return opts
}

// HTTPListener wraps the HTTP listener in TLS when the gRPC listener has it; HTTP asks for no
// client certificate.
func (sec *Security) HTTPListener(ln net.Listener) net.Listener {
	if sec.tls == nil {
		return ln
	}
	cfg := sec.tls.Clone()
	cfg.ClientCAs, cfg.ClientAuth = nil, tls.NoClientCert
	return tls.NewListener(ln, cfg)
}

// Plaintext reports whether the listeners serve without TLS.
func (sec *Security) Plaintext() bool { return sec.tls == nil }

// Authenticates reports whether gRPC calls must present a credential.
func (sec *Security) Authenticates() bool { return sec.Auth.enabled }
