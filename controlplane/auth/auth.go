package auth

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/dspyfleet/dspyfleet/internal/credential"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// identity is an authenticated caller.
type identity struct {
	role Role
	// name identifies the caller in the audit trail and in rate limits: the role of the token
	// it presented, "node:<id>" for an agent certificate or per-node token, or "anonymous"
	// when authentication is off.
	Name string
	// nodeID is the node the caller's credential is bound to: the subject common name of its
	// verified client certificate, or the node of its per-node token. Empty for the shared
	// agent token and admin callers.
	nodeID string
	// cert is whether the caller presented a verified client certificate.
	cert bool
}

type identityKey struct{}

// IdentityFrom returns the caller's identity; calls to public methods have none.
func IdentityFrom(ctx context.Context) (identity, bool) {
	id, ok := ctx.Value(identityKey{}).(identity)
	return id, ok
}

// tokenRole is a configured token and the role it grants.
type tokenRole struct {
	tok  credential.Token
	role Role
}

// authenticator authenticates callers by bearer token or client certificate and checks each
// call against accessRules.
type authenticator struct {
	// enabled is false when no token, per-node token file or client CA is configured: every
	// caller is then roleAnyone, which New allows only on loopback or with --insecure.
	enabled bool
	// mtls is on with a client CA: agents must present a certificate for their node id.
	mtls   bool
	tokens []tokenRole
	// nodeTokens holds the per-node agent tokens; nil without --agent-tokens-file.
	nodeTokens *credential.NodeTokenFile
	// guard refuses peers that failed authentication too often.
	guard *failureGuard
	// throttled counts calls refused because their peer failed authentication too often.
	throttled prometheus.Counter
	// event records a security event; failed authentications are recorded within the guard's
	// allowance, so a peer guessing tokens cannot fill the store.
	event func(ctx context.Context, ev fleetv1.SecurityEvent, method, target string, err error)
}

func newAuthenticator(cfg Config, log *slog.Logger, throttled prometheus.Counter) (*authenticator, error) {
	a := &authenticator{event: func(context.Context, fleetv1.SecurityEvent, string, string, error) {}, throttled: throttled,
		guard: &failureGuard{spec: bucketSpec{float64(cfg.AuthFailuresPerMinute) / 60, cfg.AuthFailuresPerMinute, "--auth-failures-per-minute"}, now: cfg.Now}}
	tokens, err := cfg.roleTokens(true)
	if err != nil {
		return nil, err
	}
	a.tokens = tokens
	if cfg.AgentTokensFile != "" {
		f, err := credential.OpenNodeTokenFile(cfg.AgentTokensFile)
		if err != nil {
			return nil, fmt.Errorf("--agent-tokens-file: %w", err)
		}
		f.OnReload = func(err error) {
			if err != nil {
				log.Error("the per-node token file changed but does not load; still using the previous tokens", "file", cfg.AgentTokensFile, "err", err)
				return
			}
			log.Info("per-node token file reloaded", "file", cfg.AgentTokensFile)
		}
		for _, t := range a.tokens {
			if f.Tokens().Has(t.tok) {
				return nil, fmt.Errorf("--agent-tokens-file holds the %s token; every role and node needs its own", t.role)
			}
		}
		a.nodeTokens = f
	}
	a.mtls = cfg.ClientCA != ""
	a.enabled = len(a.tokens) > 0 || a.mtls || a.nodeTokens != nil
	return a, nil
}

// authorize is the auth.AuthFunc of the server: it finds the method's rule, authenticates the
// caller unless the method is public, checks the rule and puts the identity in the context.
func (a *authenticator) authorize(ctx context.Context) (context.Context, error) {
	method, _ := grpc.Method(ctx)
	rule, ok := AccessRules[method]
	if !ok {
		return nil, status.Errorf(codes.PermissionDenied, "%s has no rule in the control plane's access table, so nobody may call it", method)
	}
	if rule == Public {
		return ctx, nil
	}
	host := peerHost(ctx)
	if a.guard.blocked(host) {
		a.throttled.Inc()
		return nil, status.Errorf(codes.ResourceExhausted, "too many failed authentications from %s; wait a minute and check the token (%s)", host, a.guard.spec.flag)
	}
	id, err := a.authenticate(ctx)
	if err != nil {
		a.refused(ctx, host, fleetv1.SecurityEvent_SECURITY_EVENT_AUTH_FAILED, method, err)
		return nil, err
	}
	ctx = context.WithValue(ctx, identityKey{}, id)
	if !rule.Allows(id.role) {
		err := status.Errorf(codes.PermissionDenied, "%s may not call %s: it needs %s", id.Name, method, rule.needs())
		a.refused(ctx, host, fleetv1.SecurityEvent_SECURITY_EVENT_PERMISSION_DENIED, method, err)
		return nil, err
	}
	return ctx, nil
}

// refused counts a refused call against the peer host's allowance and records it while the
// allowance lasts, and once more when it runs out.
func (a *authenticator) refused(ctx context.Context, host string, ev fleetv1.SecurityEvent, method string, err error) {
	within, exhausted := a.guard.fail(host)
	if within {
		a.event(ctx, ev, method, "", err)
	}
	if exhausted {
		a.event(ctx, fleetv1.SecurityEvent_SECURITY_EVENT_PEER_THROTTLED, method, host,
			status.Errorf(codes.ResourceExhausted, "%s failed authentication %d times within a minute; its calls are refused until the allowance refills (%s)", host, a.guard.spec.burst, a.guard.spec.flag))
	}
}

// authenticate finds the caller's identity: a bearer token names its role (a per-node token
// also its node); without one, a verified client certificate makes the caller an agent.
func (a *authenticator) authenticate(ctx context.Context) (identity, error) {
	certNode := certNodeID(ctx)
	if !a.enabled {
		return identity{role: RoleAnyone, Name: "anonymous", nodeID: certNode, cert: certNode != ""}, nil
	}
	tok, given, err := bearerToken(ctx)
	if err != nil {
		return identity{}, err
	}
	if !given {
		if certNode != "" {
			return identity{role: RoleAgent, Name: "node:" + certNode, nodeID: certNode, cert: true}, nil
		}
		return identity{}, status.Error(codes.Unauthenticated,
			"no credential: send 'authorization: Bearer <token>' metadata (fleetctl --token-file or $DSPYFLEET_TOKEN; grpcurl -H 'authorization: Bearer <token>')")
	}
	var match Role
	for _, t := range a.tokens {
		if t.tok.Equal(tok) {
			match = t.role
		}
	}
	if match != 0 {
		return identity{role: match, Name: match.String(), nodeID: certNode, cert: certNode != ""}, nil
	}
	if a.nodeTokens != nil {
		if node, ok := a.nodeTokens.Tokens().Node(tok); ok {
			if certNode != "" && certNode != node {
				return identity{}, status.Errorf(codes.Unauthenticated, "the bearer token is node %q's but the client certificate is node %q's", node, certNode)
			}
			return identity{role: RoleAgent, Name: "node:" + node, nodeID: node, cert: certNode != ""}, nil
		}
	}
	return identity{}, status.Error(codes.Unauthenticated, "the bearer token matches no token configured on the control plane")
}

// bearerToken returns the token in the call's authorization metadata and whether there was one.
func bearerToken(ctx context.Context) (string, bool, error) {
	vals := metadata.ValueFromIncomingContext(ctx, "authorization")
	switch len(vals) {
	case 0:
		return "", false, nil
	case 1:
	default:
		return "", false, status.Error(codes.Unauthenticated, "more than one authorization header; send one 'authorization: Bearer <token>'")
	}
	scheme, tok, ok := strings.Cut(vals[0], " ")
	if !ok || !strings.EqualFold(scheme, "bearer") || tok == "" {
		return "", false, status.Error(codes.Unauthenticated, "the authorization header must be 'Bearer <token>'")
	}
	return tok, true, nil
}

// certNodeID returns the subject common name of the caller's client certificate when the TLS
// handshake verified it against the client CA; "" otherwise.
func certNodeID(ctx context.Context) string {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return ""
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(info.State.VerifiedChains) == 0 || len(info.State.PeerCertificates) == 0 {
		return ""
	}
	return info.State.PeerCertificates[0].Subject.CommonName
}

// CheckNode checks that the caller may speak for nodeID: a caller whose credential is bound
// to a node (a client certificate or a per-node token) only for that node, and with mTLS on
// only a caller with a certificate.
func (a *authenticator) CheckNode(ctx context.Context, nodeID string) error {
	id, _ := IdentityFrom(ctx)
	var err error
	switch {
	case a.mtls && !id.cert:
		err = status.Errorf(codes.PermissionDenied, "node %q presented no client certificate signed by the control plane's --client-ca; give the agent --cert-file and --key-file", nodeID)
	case id.nodeID != "" && id.nodeID != nodeID && id.cert:
		err = status.Errorf(codes.PermissionDenied, "the client certificate is for node %q, not %q: the node id must be the certificate's subject common name", id.nodeID, nodeID)
	case id.nodeID != "" && id.nodeID != nodeID:
		err = status.Errorf(codes.PermissionDenied, "the token is node %q's, not %q's: each per-node token registers its own node only", id.nodeID, nodeID)
	default:
		return nil
	}
	a.event(ctx, fleetv1.SecurityEvent_SECURITY_EVENT_IDENTITY_MISMATCH, fleetv1.AgentService_Connect_FullMethodName, nodeID, err)
	return err
}
