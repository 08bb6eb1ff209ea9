package controlplane

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/dspyfleet/dspyfleet/internal/credential"
)

// validateSecurity checks the security settings: with authentication on, agents need a
// credential, and no two roles share a token.
func (c Config) validateSecurity() []error {
	var errs []error
	anyToken := !c.AgentToken.IsZero() || !c.AdminToken.IsZero() || !c.ReadToken.IsZero()
	if anyToken && c.AgentToken.IsZero() && c.ClientCA == "" && c.AgentTokensFile == "" {
		errs = append(errs, errors.New("--agent-token-file is not set: with admin or read-only tokens configured, agents need a token, --agent-tokens-file or --client-ca"))
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, errors.New("--tls-cert and --tls-key go together: give both or neither"))
	}
	if c.ClientCA != "" && c.TLSCert == "" {
		errs = append(errs, errors.New("--client-ca needs --tls-cert and --tls-key: client certificates are checked in the TLS handshake"))
	}
	for _, n := range []struct {
		flag string
		v    float64
	}{
		{"--agent-rate", c.AgentRate}, {"--admin-rate", c.AdminRate}, {"--agent-burst", float64(c.AgentBurst)},
		{"--admin-burst", float64(c.AdminBurst)}, {"--auth-failures-per-minute", float64(c.AuthFailuresPerMinute)},
		{"--max-streams-per-peer", float64(c.MaxStreamsPerPeer)},
	} {
		if n.v < 0 || math.IsNaN(n.v) {
			errs = append(errs, fmt.Errorf("%s %g must not be negative", n.flag, n.v))
		}
	}
	if c.AgentRate > 0 && c.AgentBurst < 1 || c.AdminRate > 0 && c.AdminBurst < 1 {
		errs = append(errs, errors.New("--agent-burst and --admin-burst must be at least 1 when their rate is set"))
	}
	for _, n := range []struct {
		flag string
		v    int
	}{
		{"--max-nodes", c.MaxNodes}, {"--max-labels", c.MaxLabels}, {"--max-label-value-bytes", c.MaxLabelValueBytes},
		{"--max-command-params", c.MaxCommandParams}, {"--max-reason-bytes", c.MaxReasonBytes},
	} {
		if n.v < 1 {
			errs = append(errs, fmt.Errorf("%s %d must be at least 1", n.flag, n.v))
		}
	}
	if c.AuditRetention < time.Hour {
		errs = append(errs, fmt.Errorf("--audit-retention %s must be at least 1h", c.AuditRetention))
	}
	toks := []struct {
		flag string
		tok  credential.Token
	}{{"--agent-token-file", c.AgentToken}, {"--admin-token-file", c.AdminToken}, {"--read-token-file", c.ReadToken}}
	for i, a := range toks {
		for _, b := range toks[i+1:] {
			if a.tok.Matches(b.tok) {
				errs = append(errs, fmt.Errorf("%s and %s hold the same token; every role needs its own", a.flag, b.flag))
			}
		}
	}
	return errs
}

// securityFile is the security part of the configuration file; keys match the flags.
type securityFile struct {
	AgentTokenFile  *string `yaml:"agent_token_file"`
	AdminTokenFile  *string `yaml:"admin_token_file"`
	ReadTokenFile   *string `yaml:"read_token_file"`
	AgentTokensFile *string `yaml:"agent_tokens_file"`
	TLSCert         *string `yaml:"tls_cert"`
	TLSKey          *string `yaml:"tls_key"`
	ClientCA        *string `yaml:"client_ca"`
	Insecure        *bool   `yaml:"insecure"`

	AgentRate             *float64 `yaml:"agent_rate"`
	AgentBurst            *int     `yaml:"agent_burst"`
	AdminRate             *float64 `yaml:"admin_rate"`
	AdminBurst            *int     `yaml:"admin_burst"`
	AuthFailuresPerMinute *int     `yaml:"auth_failures_per_minute"`
	MaxStreamsPerPeer     *int     `yaml:"max_streams_per_peer"`
	MaxNodes              *int     `yaml:"max_nodes"`
	MaxLabels             *int     `yaml:"max_labels"`
	MaxLabelValueBytes    *int     `yaml:"max_label_value_bytes"`
	MaxCommandParams      *int     `yaml:"max_command_params"`
	MaxReasonBytes        *int     `yaml:"max_reason_bytes"`

	AuditRetention *time.Duration `yaml:"audit_retention"`
}

// apply sets c's TLS files and limits and reads the token files the configuration file names into c.
func (f securityFile) apply(c *Config) error {
	set(&c.AgentTokensFile, f.AgentTokensFile)
	set(&c.TLSCert, f.TLSCert)
	set(&c.TLSKey, f.TLSKey)
	set(&c.ClientCA, f.ClientCA)
	set(&c.Insecure, f.Insecure)
	set(&c.AgentRate, f.AgentRate)
	set(&c.AgentBurst, f.AgentBurst)
	set(&c.AdminRate, f.AdminRate)
	set(&c.AdminBurst, f.AdminBurst)
	set(&c.AuthFailuresPerMinute, f.AuthFailuresPerMinute)
	set(&c.MaxStreamsPerPeer, f.MaxStreamsPerPeer)
	set(&c.MaxNodes, f.MaxNodes)
	set(&c.MaxLabels, f.MaxLabels)
	set(&c.MaxLabelValueBytes, f.MaxLabelValueBytes)
	set(&c.MaxCommandParams, f.MaxCommandParams)
	set(&c.MaxReasonBytes, f.MaxReasonBytes)
	set(&c.AuditRetention, f.AuditRetention)
	var errs []error
	for _, t := range []struct {
		path *string
		dst  *credential.Token
	}{{f.AgentTokenFile, &c.AgentToken}, {f.AdminTokenFile, &c.AdminToken}, {f.ReadTokenFile, &c.ReadToken}} {
		if t.path == nil {
			continue
		}
		tok, err := credential.ReadTokenFile(*t.path)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		*t.dst = tok
	}
	return errors.Join(errs...)
}
