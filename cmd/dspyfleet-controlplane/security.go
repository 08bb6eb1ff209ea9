package main

import (
	"errors"
	"flag"

	"github.com/dspyfleet/dspyfleet/controlplane"
	"github.com/dspyfleet/dspyfleet/internal/credential"
)

// tokenEnv names the environment variables holding the tokens themselves; a token file (flag,
// config key or DSPYFLEET_*_TOKEN_FILE) wins over them.
var tokenEnv = struct{ agent, admin, read string }{"DSPYFLEET_AGENT_TOKEN", "DSPYFLEET_ADMIN_TOKEN", "DSPYFLEET_READ_TOKEN"}

// registerSecurityFlags adds the security flags: tokens, TLS, limits and the audit trail.
func registerSecurityFlags(fs *flag.FlagSet, cfg *controlplane.Config) {
	fs.StringVar(&cfg.AgentTokenFile, "agent-token-file", cfg.AgentTokenFile, "file holding the token agents present (or the token in $"+tokenEnv.agent+")")
	fs.StringVar(&cfg.AdminTokenFile, "admin-token-file", cfg.AdminTokenFile, "file holding the admin token: every admin call (or the token in $"+tokenEnv.admin+")")
	fs.StringVar(&cfg.ReadTokenFile, "read-token-file", cfg.ReadTokenFile, "file holding the read-only token: admin calls that change nothing (or the token in $"+tokenEnv.read+")")
	fs.StringVar(&cfg.AgentTokensFile, "agent-tokens-file", cfg.AgentTokensFile, `file of per-node agent tokens, "<node id> <token>" a line, re-read when it changes`)
	fs.StringVar(&cfg.TLSCert, "tls-cert", cfg.TLSCert, "PEM certificate of the gRPC and HTTP listeners; re-read when it changes")
	fs.StringVar(&cfg.TLSKey, "tls-key", cfg.TLSKey, "PEM private key of --tls-cert")
	fs.StringVar(&cfg.ClientCA, "client-ca", cfg.ClientCA, "PEM CA certificate signing agent certificates (mTLS); an agent's certificate common name must be its node id")
	fs.BoolVar(&cfg.Insecure, "insecure", cfg.Insecure, "allow a non-loopback listen address without TLS or without tokens (warns at every start)")
	fs.Float64Var(&cfg.AgentRate, "agent-rate", cfg.AgentRate, "calls (session opens) per second each agent may make; 0 means no limit")
	fs.IntVar(&cfg.AgentBurst, "agent-burst", cfg.AgentBurst, "burst of --agent-rate")
	fs.Float64Var(&cfg.AdminRate, "admin-rate", cfg.AdminRate, "calls per second each admin or read-only identity may make; 0 means no limit")
	fs.IntVar(&cfg.AdminBurst, "admin-burst", cfg.AdminBurst, "burst of --admin-rate")
	fs.IntVar(&cfg.AuthFailuresPerMinute, "auth-failures-per-minute", cfg.AuthFailuresPerMinute, "failed authentications in a row one bad token or peer host may make before it must wait 1s, doubling with each failure up to 5m (valid credentials never wait); 0 means no limit")
	fs.IntVar(&cfg.MaxStreamsPerPeer, "max-streams-per-peer", cfg.MaxStreamsPerPeer, "streams one peer host may hold open; 0 means no limit")
	fs.IntVar(&cfg.MaxNodes, "max-nodes", cfg.MaxNodes, "nodes the control plane may know; a new node past it is refused")
	fs.IntVar(&cfg.MaxLabels, "max-labels", cfg.MaxLabels, "labels a node may have")
	fs.IntVar(&cfg.MaxLabelValueBytes, "max-label-value-bytes", cfg.MaxLabelValueBytes, "length of a node label's value, in bytes")
	fs.IntVar(&cfg.MaxCommandParams, "max-command-params", cfg.MaxCommandParams, "parameters a command may carry")
	fs.IntVar(&cfg.MaxReasonBytes, "max-reason-bytes", cfg.MaxReasonBytes, "length of the reason given with a command, drain or cancel, in bytes")
	fs.DurationVar(&cfg.AuditRetention, "audit-retention", cfg.AuditRetention, "how long audit records (admin calls, security events) are kept")
}

// tokensFromEnv sets cfg's tokens from the variables holding them, looked up with env.
func tokensFromEnv(cfg *controlplane.Config, env func(string) (string, bool)) error {
	var errs []error
	for _, t := range []struct {
		name string
		dst  *credential.Token
	}{{tokenEnv.agent, &cfg.AgentToken}, {tokenEnv.admin, &cfg.AdminToken}, {tokenEnv.read, &cfg.ReadToken}} {
		v, ok := env(t.name)
		if !ok || v == "" {
			continue
		}
		tok, err := credential.ParseToken([]byte(v))
		if err != nil {
			errs = append(errs, errors.New("$"+t.name+": "+err.Error()))
			continue
		}
		*t.dst = tok
	}
	return errors.Join(errs...)
}

// devSettings confines --dev to loopback and to the plaintext its local agent speaks.
func devSettings(cfg *controlplane.Config) error {
	cfg.LoopbackOnly = true
	if cfg.TLSCert != "" || cfg.ClientCA != "" {
		return errors.New("--dev serves plaintext on loopback for its local agent; drop --tls-cert, --tls-key and --client-ca")
	}
	return nil
}
