package controlplane_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/dspyfleet/dspyfleet/controlplane"
	"github.com/dspyfleet/dspyfleet/internal/fleettest"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// TestPerNodeTokens: a per-node token registers its own node only, and nodes added to the file
// can register without a restart.
func TestPerNodeTokens(t *testing.T) {
	const n1Tok, n2Tok = "node-one-0123456789abcdef", "node-two-0123456789abcdef"
	path := filepath.Join(t.TempDir(), "agents.tokens")
	if err := os.WriteFile(path, []byte("n1 "+n1Tok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := fleettest.FastConfig(t)
	cfg.AgentTokensFile, cfg.AdminToken = path, fleettest.Token(t, adminTok)
	cfg.AuthFailuresPerMinute = 0 // the polling below fails until the file is re-read
	cp := fleettest.StartControlPlane(t, cfg)
	addr := cp.GRPCAddr()
	admin := fleetAs(t, cp, adminTok)

	if err := connectAs(t, fleettest.DialToken(t, addr, fleettest.Token(t, n1Tok)), "n1"); err != nil {
		t.Fatalf("n1 with its token: %v", err)
	}
	wantCode(t, connectAs(t, fleettest.DialToken(t, addr, fleettest.Token(t, n1Tok)), "n2"), codes.PermissionDenied, `the token is node "n1"'s, not "n2"'s`)
	waitAudit(t, admin, &fleetv1.AuditRecord{Kind: fleetv1.AuditKind_AUDIT_KIND_SECURITY, Event: fleetv1.SecurityEvent_SECURITY_EVENT_IDENTITY_MISMATCH, Identity: "node:n1", Target: "n2"})
	wantCode(t, connectAs(t, fleettest.DialToken(t, addr, fleettest.Token(t, n2Tok)), "n2"), codes.Unauthenticated, "matches no token")
	_, err := fleetAs(t, cp, n1Tok).ListNodes(t.Context(), &fleetv1.ListNodesRequest{})
	wantCode(t, err, codes.PermissionDenied, "")

	later := time.Now().Add(time.Minute)
	if err := os.WriteFile(path, []byte("n1 "+n1Tok+"\nn2 "+n2Tok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, later, later); err != nil {
		t.Fatal(err)
	}
	conn := fleettest.DialToken(t, addr, fleettest.Token(t, n2Tok))
	fleettest.Eventually(t, 5*time.Second, "n2's token to be accepted after the file changed", func() bool {
		return connectAs(t, conn, "n2") == nil
	})
}

func TestPerNodeTokensConfigErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agents.tokens")
	if err := os.WriteFile(path, []byte("n1 "+adminTok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := fleettest.FastConfig(t)
	cfg.AgentTokensFile, cfg.AdminToken = path, fleettest.Token(t, adminTok)
	if _, err := controlplane.New(cfg); err == nil {
		t.Fatal("a per-node token equal to the admin token was accepted")
	}
	cfg.AgentTokensFile = path + ".missing"
	if _, err := controlplane.New(cfg); err == nil {
		t.Fatal("a missing per-node token file was accepted")
	}
}
