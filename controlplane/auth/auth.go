package auth

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

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
	// bindings holds the nodes bound to their own credential; nil until New gives the store.
	bindings *bindings
	// guard slows down failed authentications, per presented token and per peer host.
	guard *failureGuard
	// denials bounds the permission-denied events recorded per identity, so a valid token
	// calling what it may not cannot fill the store; the calls are refused all the same.
	denials     buckets
	denialsSpec bucketSpec
	now         func() time.Time
	// throttled counts failed authentications refused because their key must still wait.
	throttled prometheus.Counter
	// event records a security event; failed authentications are recorded unless their key
	// must wait, so a peer guessing tokens cannot fill the store.
	event func(ctx context.Context, ev fleetv1.SecurityEvent, method, target string, err error)
}

func newAuthenticator(cfg Config, log *slog.Logger, throttled prometheus.Counter) (*authenticator, error) {
	a := &authenticator{event: func(context.Context, fleetv1.SecurityEvent, string, string, error) {}, throttled: throttled,
		guard: newFailureGuard(cfg.AuthFailuresPerMinute, cfg.Now), now: cfg.Now,
		denialsSpec: bucketSpec{float64(cfg.AuthFailuresPerMinute) / 60, cfg.AuthFailuresPerMinute, failFlag}}
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
// A caller whose credential authenticates is never refused for failures, its own or others'.
func (a *authenticator) authorize(ctx context.Context) (context.Context, error) {
	method, _ := grpc.Method(ctx)
	rule, ok := AccessRules[method]
	if !ok {
		return nil, status.Errorf(codes.PermissionDenied, "%s has no rule in the control plane's access table, so nobody may call it", method)
	}
	if rule == Public {
		return ctx, nil
	}
	id, err := a.authenticate(ctx)
	if err != nil {
		tok, given, _ := bearerToken(ctx)
		return nil, a.failed(ctx, a.guard.keys(peerHost(ctx), tok, given), method, err)
	}
	ctx = context.WithValue(ctx, identityKey{}, id)
	if !rule.Allows(id.role) {
		err := status.Errorf(codes.PermissionDenied, "%s may not call %s: it needs %s", id.Name, method, rule.needs())
		a.denied(ctx, id, method, err)
		return nil, err
	}
	return ctx, nil
}

// failed answers a failed authentication counted against keys: while one of them must still
// wait, with the guard's ResourceExhausted (counted, not recorded); else with err, counted
// against every key and recorded, and with a throttled-peer event for each key whose
// throttling this failure started.
func (a *authenticator) failed(ctx context.Context, keys []failKey, method string, err error) error {
	if wait, k := a.guard.wait(keys); wait > 0 {
		a.throttled.Inc()
		return a.guard.throttledError(k, wait)
	}
	started := a.guard.fail(keys)
	a.event(ctx, fleetv1.SecurityEvent_SECURITY_EVENT_AUTH_FAILED, method, "", err)
	for _, k := range started {
		a.event(ctx, fleetv1.SecurityEvent_SECURITY_EVENT_PEER_THROTTLED, method, k.what, a.guard.startedError(k))
	}
	return err
}

// denied records a call refused to a valid credential while the identity's allowance of
// recorded denials lasts. It never counts as a failed authentication.
func (a *authenticator) denied(ctx context.Context, id identity, method string, err error) {
	if a.denialsSpec.burst > 0 && !a.denials.get(id.Name+"@"+peerHost(ctx), a.denialsSpec).AllowN(a.now(), 1) {
		return
	}
	a.event(ctx, fleetv1.SecurityEvent_SECURITY_EVENT_PERMISSION_DENIED, method, "", err)
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
	return a.tokenIdentity(tok, certNode)
}

// tokenIdentity is the identity of a bearer token, presented with a verified certificate for
// certNode ("" for none).
func (a *authenticator) tokenIdentity(tok, certNode string) (identity, error) {
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
// only a caller with a certificate. A node bound to its own credential (see Binding), or one
// with a token in --agent-tokens-file, refuses the shared agent token; the first session with
// the node's own credential binds it, and a binding that cannot be written refuses the session.
func (a *authenticator) CheckNode(ctx context.Context, nodeID string) error {
	id, _ := IdentityFrom(ctx)
	if !a.enabled {
		return nil
	}
	var err error
	switch {
	case a.mtls && !id.cert:
		err = status.Errorf(codes.PermissionDenied, "node %q presented no client certificate signed by the control plane's --client-ca; give the agent --cert-file and --key-file", nodeID)
	case id.nodeID != "" && id.nodeID != nodeID && id.cert:
		err = status.Errorf(codes.PermissionDenied, "the client certificate is for node %q, not %q: the node id must be the certificate's subject common name", id.nodeID, nodeID)
	case id.nodeID != "" && id.nodeID != nodeID:
		err = status.Errorf(codes.PermissionDenied, "the token is node %q's, not %q's: each per-node token registers its own node only", id.nodeID, nodeID)
	case id.nodeID == "":
		err = a.checkShared(nodeID)
	default:
		return a.bind(id, nodeID)
	}
	if err == nil {
		return nil
	}
	a.event(ctx, fleetv1.SecurityEvent_SECURITY_EVENT_IDENTITY_MISMATCH, fleetv1.AgentService_Connect_FullMethodName, nodeID, err)
	return err
}

// checkShared refuses the shared agent token for a node bound to its own credential or with a
// per-node token in the file.
func (a *authenticator) checkShared(nodeID string) error {
	if a.bindings != nil {
		if b, ok := a.bindings.get(nodeID); ok {
			return status.Errorf(codes.PermissionDenied,
				"node %q is bound to its %s (since %s): the shared agent token may not register it; give the agent that credential, or to re-bind the node on purpose stop the control plane and run 'controlplane unbind-node --data-dir <dir> %s'",
				nodeID, b.describe(), b.Since.Format(time.RFC3339), nodeID)
		}
	}
	if a.nodeTokens != nil && a.nodeTokens.Tokens().HasNode(nodeID) {
		return status.Errorf(codes.PermissionDenied,
			"node %q has a per-node token in --agent-tokens-file: only that token may register it; give the agent that token (--token-file), not the shared agent token", nodeID)
	}
	return nil
}

// bind binds nodeID to the credential of id, which is the node's own.
func (a *authenticator) bind(id identity, nodeID string) error {
	if a.bindings == nil {
		return nil
	}
	credential := boundToken
	if id.cert {
		credential = boundCertificate
	}
	if err := a.bindings.bind(nodeID, credential, a.now()); err != nil {
		return status.Errorf(codes.Unavailable, "node %q was not registered: its binding to its %s cannot be written (%v); see /readyz, free space in or repair the data directory; the agent retries", nodeID, Binding{Credential: credential}.describe(), err)
	}
	return nil
}
