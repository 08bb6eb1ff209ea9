package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dspyfleet/dspyfleet/agent"
	"github.com/dspyfleet/dspyfleet/internal/fleettest"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// TestTokens runs a real agent with the agent token and fleetctl with the admin token (from
// --token-file) and the read-only token (from $DSPYFLEET_TOKEN) against a control plane that
// requires tokens.
func TestTokens(t *testing.T) {
	const agentTok, adminTok, readTok = "agent-0123456789abcdef", "admin-0123456789abcdef", "read-0123456789abcdef"
	cfg := fleettest.FastConfig(t)
	cfg.AgentToken, cfg.AdminToken, cfg.ReadToken = fleettest.Token(t, agentTok), fleettest.Token(t, adminTok), fleettest.Token(t, readTok)
	cp := fleettest.StartControlPlane(t, cfg)
	t.Setenv("DSPYFLEET_ADDR", cp.GRPCAddr())

	acfg := agent.DefaultConfig()
	acfg.Server, acfg.NodeID, acfg.Interval = cp.GRPCAddr(), "tok-node", 100*time.Millisecond
	acfg.StateDir, acfg.Logger, acfg.Token = t.TempDir(), fleettest.Logger(t), fleettest.Token(t, agentTok)
	runAgent(t, acfg)
	adminFile := filepath.Join(t.TempDir(), "admin.token")
	if err := os.WriteFile(adminFile, []byte(adminTok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fleettest.Eventually(t, 10*time.Second, "tok-node ready", func() bool {
		res := runCLI(t, "--token-file", adminFile, "nodes", "get", "tok-node")
		return strings.Contains(res.stdout, "State:           ready\n")
	})

	if res := runCLI(t, "nodes", "list"); res.code != exitDenied || !strings.Contains(res.stderr, "Bearer") {
		t.Fatalf("no token: %+v", res)
	}
	t.Setenv("DSPYFLEET_TOKEN", readTok)
	if res := runCLI(t, "nodes", "list"); res.code != exitOK || !strings.Contains(res.stdout, "tok-node") {
		t.Fatalf("read-only list: %+v", res)
	}
	if res := runCLI(t, "nodes", "drain", "tok-node"); res.code != exitDenied || !strings.Contains(res.stderr, "admin token") {
		t.Fatalf("read-only drain: %+v", res)
	}
	if res := runCLI(t, "--token-file", adminFile, "nodes", "drain", "tok-node"); res.code != exitOK {
		t.Fatalf("admin drain: %+v", res)
	}
	admin := fleetv1.NewFleetServiceClient(fleettest.DialToken(t, cp.GRPCAddr(), fleettest.Token(t, adminTok)))
	if s := fleettest.NodeState(admin, "tok-node"); s != fleetv1.NodeState_NODE_STATE_DRAINING && s != fleetv1.NodeState_NODE_STATE_DRAINED {
		t.Fatalf("node %s after the admin drained it", s)
	}

	res := runCLI(t, "audit", "--kind", "admin")
	if res.code != exitOK || !regexp.MustCompile(`(?m)^\S+ +admin call +admin +127\.0\.0\.1:\d+ +DrainNode +tok-node +OK `).MatchString(res.stdout) {
		t.Fatalf("audit --kind admin: %+v", res)
	}
	res = runCLI(t, "audit", "--kind", "security", "--since", "1h")
	if res.code != exitOK || !strings.Contains(res.stdout, "permission denied   read-only") || !strings.Contains(res.stdout, "auth failed") || strings.Contains(res.stdout, "admin call") {
		t.Fatalf("audit --kind security: %+v", res)
	}
	if res := runCLI(t, "audit", "--kind", "system"); res.code != exitOK || !strings.Contains(res.stdout, "No audit records.") {
		t.Fatalf("audit --kind system with nothing removed: %+v", res)
	}
	if res := runCLI(t, "audit", "--kind", "bogus"); res.code == exitOK || !strings.Contains(res.stderr, "admin, security or system") {
		t.Fatalf("audit --kind bogus: %+v", res)
	}
}

// TestMTLS runs a real agent with a client certificate and fleetctl with --ca-file against a
// control plane serving TLS and checking agent certificates.
func TestMTLS(t *testing.T) {
	const adminTok = "admin-0123456789abcdef"
	ca := fleettest.NewCA(t, "fleet-ca")
	dir := t.TempDir()
	cfg := fleettest.FastConfig(t)
	cfg.TLSCert, cfg.TLSKey = ca.Issue(t, dir, "server", "controlplane")
	cfg.ClientCA, cfg.AdminToken = ca.CertFile, fleettest.Token(t, adminTok)
	cp := fleettest.StartControlPlane(t, cfg)
	t.Setenv("DSPYFLEET_ADDR", cp.GRPCAddr())
	t.Setenv("DSPYFLEET_TOKEN", adminTok)

	acfg := agent.DefaultConfig()
	acfg.Server, acfg.NodeID, acfg.Interval = cp.GRPCAddr(), "tls-node", 100*time.Millisecond
	acfg.StateDir, acfg.Logger = t.TempDir(), fleettest.Logger(t)
	acfg.CAFile = ca.CertFile
	acfg.CertFile, acfg.KeyFile = ca.Issue(t, dir, "agent", "tls-node")
	a, err := agent.New(acfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("agent: %v", err)
		}
	})
	fleettest.Eventually(t, 10*time.Second, "tls-node ready", func() bool {
		res := runCLI(t, "--ca-file", ca.CertFile, "nodes", "get", "tls-node")
		return strings.Contains(res.stdout, "State:           ready\n")
	})
	if res := runCLI(t, "nodes", "list"); res.code != exitUnavailable || !strings.Contains(res.stderr, "speaks TLS: add --tls") {
		t.Fatalf("plaintext fleetctl against a TLS control plane: %+v; want exit %d and the hint to add --tls", res, exitUnavailable)
	}
}
