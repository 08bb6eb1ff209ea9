package auth

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/dspyfleet/dspyfleet/internal/credential"
)

// Config is what the guards need of the configuration: credentials, TLS, rate and
// stream limits, the audit retention and the clock.
type Config struct {
	AgentToken, AdminToken, ReadToken                              credential.Token
	AgentTokenFile, AdminTokenFile, ReadTokenFile, AgentTokensFile string
	TLSCert, TLSKey, ClientCA                                      string
	AgentRate, AdminRate                                           float64
	AgentBurst, AdminBurst, AuthFailuresPerMinute                  int
	MaxStreamsPerPeer                                              int
	AuditRetention                                                 time.Duration
	Now                                                            func() time.Time
}

// Validate checks the security settings: with authentication on, agents need a
// credential; TLS files come in pairs; limits are in range.
func (c Config) Validate() []error {
	var errs []error
	anyToken := !c.AgentToken.IsZero() || !c.AdminToken.IsZero() || !c.ReadToken.IsZero() ||
		c.AgentTokenFile != "" || c.AdminTokenFile != "" || c.ReadTokenFile != ""
	agentCred := !c.AgentToken.IsZero() || c.AgentTokenFile != "" || c.ClientCA != "" || c.AgentTokensFile != ""
	if anyToken && !agentCred {
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
	if c.AuditRetention < time.Hour {
		errs = append(errs, fmt.Errorf("--audit-retention %s must be at least 1h", c.AuditRetention))
	}
	if _, err := c.roleTokens(false); err != nil {
		errs = append(errs, err)
	}
	return errs
}

// roleTokens returns the tokens of the admin, read-only and agent roles, in that order: a
// token file, when given, wins over the token. With readFiles false, files are not read and
// only the tokens given as values are checked. No two roles may share a token.
func (c Config) roleTokens(readFiles bool) ([]tokenRole, error) {
	roles := []struct {
		flag string
		tok  credential.Token
		file string
		role Role
	}{
		{"--admin-token-file", c.AdminToken, c.AdminTokenFile, RoleAdmin},
		{"--read-token-file", c.ReadToken, c.ReadTokenFile, RoleRead},
		{"--agent-token-file", c.AgentToken, c.AgentTokenFile, RoleAgent},
	}
	var errs []error
	for i := range roles {
		if readFiles && roles[i].file != "" {
			tok, err := credential.ReadTokenFile(roles[i].file)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", roles[i].flag, err))
				continue
			}
			roles[i].tok = tok
		}
	}
	var out []tokenRole
	for i, a := range roles {
		for _, b := range roles[i+1:] {
			if a.tok.Matches(b.tok) {
				errs = append(errs, fmt.Errorf("%s and %s hold the same token; every role needs its own", a.flag, b.flag))
			}
		}
		if !a.tok.IsZero() {
			out = append(out, tokenRole{a.tok, a.role})
		}
	}
	return out, errors.Join(errs...)
}

// CheckCredentials reads every file the settings name and reports each that New would refuse.
func (c Config) CheckCredentials() error {
	_, err := c.roleTokens(true)
	errs := []error{err}
	if c.AgentTokensFile != "" {
		if _, err := credential.OpenNodeTokenFile(c.AgentTokensFile); err != nil {
			errs = append(errs, fmt.Errorf("--agent-tokens-file: %w", err))
		}
	}
	if c.TLSCert != "" && c.TLSKey != "" {
		if _, err := credential.NewCertReloader(c.TLSCert, c.TLSKey); err != nil {
			errs = append(errs, fmt.Errorf("--tls-cert, --tls-key: %w", err))
		}
	}
	if c.ClientCA != "" {
		if _, err := credential.LoadCertPool(c.ClientCA); err != nil {
			errs = append(errs, fmt.Errorf("--client-ca: %w", err))
		}
	}
	return errors.Join(errs...)
}
