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
	if anyToken && c.AgentToken.IsZero() {
		errs = append(errs, errors.New("--agent-token-file is not set: with admin or read-only tokens configured, agents need a token too"))
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
}

// apply reads the token files the configuration file names into c.
func (f securityFile) apply(c *Config) error {
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
