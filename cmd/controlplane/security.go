package main

import (
	"errors"
	"flag"

	"github.com/dspyfleet/dspyfleet/controlplane"
	"github.com/dspyfleet/dspyfleet/internal/credential"
)

// securityFlags are the flags naming the control plane's secrets. A token comes from its
// environment variable, then the config file, then the flag, the later winning.
type securityFlags struct {
	agentTokenFile, adminTokenFile, readTokenFile string
}

// tokenEnv names the environment variables holding the tokens.
var tokenEnv = struct{ agent, admin, read string }{"DSPYFLEET_AGENT_TOKEN", "DSPYFLEET_ADMIN_TOKEN", "DSPYFLEET_READ_TOKEN"}

func (f *securityFlags) register(fs *flag.FlagSet, cfg *controlplane.Config) {
	fs.StringVar(&cfg.AgentTokensFile, "agent-tokens-file", cfg.AgentTokensFile, `file of per-node agent tokens, "<node id> <token>" a line, re-read when it changes`)
	fs.StringVar(&cfg.TLSCert, "tls-cert", cfg.TLSCert, "PEM certificate of the gRPC and HTTP listeners; re-read when it changes")
	fs.StringVar(&cfg.TLSKey, "tls-key", cfg.TLSKey, "PEM private key of --tls-cert")
	fs.BoolVar(&cfg.Insecure, "insecure", cfg.Insecure, "allow a non-loopback listen address without TLS or without tokens (warns at every start)")
	fs.Float64Var(&cfg.AgentRate, "agent-rate", cfg.AgentRate, "calls (session opens) per second each agent may make; 0 means no limit")
	fs.IntVar(&cfg.AgentBurst, "agent-burst", cfg.AgentBurst, "burst of --agent-rate")
	fs.Float64Var(&cfg.AdminRate, "admin-rate", cfg.AdminRate, "calls per second each admin or read-only identity may make; 0 means no limit")
	fs.IntVar(&cfg.AdminBurst, "admin-burst", cfg.AdminBurst, "burst of --admin-rate")
	fs.IntVar(&cfg.AuthFailuresPerMinute, "auth-failures-per-minute", cfg.AuthFailuresPerMinute, "failed authentications one peer host may make a minute before its calls are refused; 0 means no limit")
	fs.IntVar(&cfg.MaxStreamsPerPeer, "max-streams-per-peer", cfg.MaxStreamsPerPeer, "streams one peer host may hold open; 0 means no limit")
	fs.IntVar(&cfg.MaxNodes, "max-nodes", cfg.MaxNodes, "nodes the control plane may know; a new node past it is refused")
	fs.IntVar(&cfg.MaxLabels, "max-labels", cfg.MaxLabels, "labels a node may have")
	fs.IntVar(&cfg.MaxLabelValueBytes, "max-label-value-bytes", cfg.MaxLabelValueBytes, "length of a node label's value, in bytes")
	fs.IntVar(&cfg.MaxCommandParams, "max-command-params", cfg.MaxCommandParams, "parameters a command may carry")
	fs.IntVar(&cfg.MaxReasonBytes, "max-reason-bytes", cfg.MaxReasonBytes, "length of the reason given with a command, drain or cancel, in bytes")
	fs.DurationVar(&cfg.AuditRetention, "audit-retention", cfg.AuditRetention, "how long audit records (admin calls, security events) are kept")
	fs.StringVar(&cfg.ClientCA, "client-ca", cfg.ClientCA, "PEM CA certificate signing agent certificates (mTLS); an agent's certificate common name must be its node id")
	fs.StringVar(&f.agentTokenFile, "agent-token-file", "", "file holding the token agents present (env "+tokenEnv.agent+")")
	fs.StringVar(&f.adminTokenFile, "admin-token-file", "", "file holding the admin token: every admin call (env "+tokenEnv.admin+")")
	fs.StringVar(&f.readTokenFile, "read-token-file", "", "file holding the read-only token: admin calls that change nothing (env "+tokenEnv.read+")")
}

// fromEnv sets cfg's tokens from the environment, before the config file and flags apply.
func fromEnv(cfg *controlplane.Config) error {
	var errs []error
	for _, t := range []struct {
		env string
		dst *credential.Token
	}{{tokenEnv.agent, &cfg.AgentToken}, {tokenEnv.admin, &cfg.AdminToken}, {tokenEnv.read, &cfg.ReadToken}} {
		tok, err := credential.TokenFromEnv(t.env)
		errs = append(errs, err)
		if !tok.IsZero() {
			*t.dst = tok
		}
	}
	return errors.Join(errs...)
}

// apply reads the token files given as flags into cfg.
func (f *securityFlags) apply(cfg *controlplane.Config) error {
	var errs []error
	for _, t := range []struct {
		path string
		dst  *credential.Token
	}{{f.agentTokenFile, &cfg.AgentToken}, {f.adminTokenFile, &cfg.AdminToken}, {f.readTokenFile, &cfg.ReadToken}} {
		if t.path == "" {
			continue
		}
		tok, err := credential.ReadTokenFile(t.path)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		*t.dst = tok
	}
	return errors.Join(errs...)
}
