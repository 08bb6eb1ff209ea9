package controlplane

import (
	"errors"
	"fmt"

	"github.com/dspyfleet/dspyfleet/internal/credential"
)

// validateSecurity checks the security settings: with authentication on, agents need a
// credential, and no two roles share a token.
func (c Config) validateSecurity() []error {
	var errs []error
	anyToken := !c.AgentToken.IsZero() || !c.AdminToken.IsZero() || !c.ReadToken.IsZero()
	if anyToken && c.AgentToken.IsZero() && c.ClientCA == "" {
		errs = append(errs, errors.New("--agent-token-file is not set: with admin or read-only tokens configured, agents need a token or --client-ca"))
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, errors.New("--tls-cert and --tls-key go together: give both or neither"))
	}
	if c.ClientCA != "" && c.TLSCert == "" {
		errs = append(errs, errors.New("--client-ca needs --tls-cert and --tls-key: client certificates are checked in the TLS handshake"))
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
	AgentTokenFile *string `yaml:"agent_token_file"`
	AdminTokenFile *string `yaml:"admin_token_file"`
	ReadTokenFile  *string `yaml:"read_token_file"`
	TLSCert        *string `yaml:"tls_cert"`
	TLSKey         *string `yaml:"tls_key"`
	ClientCA       *string `yaml:"client_ca"`
	Insecure       *bool   `yaml:"insecure"`
}

// apply sets c's TLS files and reads the token files the configuration file names into c.
func (f securityFile) apply(c *Config) error {
	set(&c.TLSCert, f.TLSCert)
	set(&c.TLSKey, f.TLSKey)
	set(&c.ClientCA, f.ClientCA)
	set(&c.Insecure, f.Insecure)
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
