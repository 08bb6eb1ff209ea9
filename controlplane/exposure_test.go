package controlplane_test

import (
	"strings"
	"testing"

	"github.com/dspyfleet/dspyfleet/controlplane"
	"github.com/dspyfleet/dspyfleet/internal/credential"
	"github.com/dspyfleet/dspyfleet/internal/fleettest"
)

// TestNonLoopbackNeedsTLSAndTokens: serving on every interface without TLS or without tokens
// needs Insecure, which warns; loopback needs neither.
func TestNonLoopbackNeedsTLSAndTokens(t *testing.T) {
	ca := fleettest.NewCA(t, "ca")
	cert, key := ca.Issue(t, t.TempDir(), "server", "controlplane")
	exposed := func(t *testing.T, logs *lockedBuffer) controlplane.Config {
		cfg := tokenConfig(t, logs)
		cfg.GRPCListen, cfg.HTTPListen = "0.0.0.0:0", "0.0.0.0:0"
		cfg.TLSCert, cfg.TLSKey = cert, key
		return cfg
	}
	refused := []struct {
		name string
		mod  func(*controlplane.Config)
		want []string
	}{
		{"no TLS", func(c *controlplane.Config) { c.TLSCert, c.TLSKey = "", "" }, []string{"--grpc-listen", "--http-listen", "has no TLS", "--insecure"}},
		{"no tokens", func(c *controlplane.Config) {
			c.AgentToken, c.AdminToken, c.ReadToken = credential.Token{}, credential.Token{}, credential.Token{}
		}, []string{"need no token", "--insecure"}},
		{"dev", func(c *controlplane.Config) { c.LoopbackOnly, c.Insecure = true, true }, []string{"loopback only"}},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			cfg := exposed(t, &lockedBuffer{})
			tc.mod(&cfg)
			_, err := controlplane.New(cfg)
			for _, w := range tc.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Fatalf("want an error naming %q, got %v", w, err)
				}
			}
		})
	}
	t.Run("insecure warns", func(t *testing.T) {
		logs := &lockedBuffer{}
		cfg := exposed(t, logs)
		cfg.TLSCert, cfg.TLSKey, cfg.Insecure = "", "", true
		fleettest.StartControlPlane(t, cfg).Stop(t)
		if !strings.Contains(logs.String(), "INSECURE") {
			t.Fatalf("no warning:\n%s", logs)
		}
	})
	t.Run("TLS and tokens start quietly", func(t *testing.T) {
		logs := &lockedBuffer{}
		fleettest.StartControlPlane(t, exposed(t, logs)).Stop(t)
		if strings.Contains(logs.String(), "INSECURE") {
			t.Fatalf("warning without reason:\n%s", logs)
		}
	})
}
