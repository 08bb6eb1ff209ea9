package controlplane

import (
	"fmt"
	"github.com/dspyfleet/dspyfleet/controlplane/auth"
)

// security is the part of c the guards need.
func (c Config) security() auth.Config {
	return auth.Config{
		AgentToken: c.AgentToken, AdminToken: c.AdminToken, ReadToken: c.ReadToken,
		AgentTokenFile: c.AgentTokenFile, AdminTokenFile: c.AdminTokenFile, ReadTokenFile: c.ReadTokenFile, AgentTokensFile: c.AgentTokensFile,
		TLSCert: c.TLSCert, TLSKey: c.TLSKey, ClientCA: c.ClientCA,
		AgentRate: c.AgentRate, AdminRate: c.AdminRate, AgentBurst: c.AgentBurst, AdminBurst: c.AdminBurst,
		AuthFailuresPerMinute: c.AuthFailuresPerMinute, MaxStreamsPerPeer: c.MaxStreamsPerPeer,
		AuditRetention: c.AuditRetention, Now: c.Now,
	}
}

// validateLimits checks the bounds on what callers may send.
func (c Config) validateLimits() []error {
	var errs []error
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
	return errs
}

// CheckCredentials reads every file the security settings of c name (token files, the per-node
// token file, the TLS pair, the client CA) and reports each that New would refuse, without
// binding or starting anything.
func CheckCredentials(c Config) error { return c.security().CheckCredentials() }
