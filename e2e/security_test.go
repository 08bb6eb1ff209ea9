package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/dspyfleet/dspyfleet/internal/credential"
	"github.com/dspyfleet/dspyfleet/internal/fleettest"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// TestSecuredFleet runs the control plane and agent binaries with TLS, mTLS and tokens, and
// grpcurl with -H against them; no token appears in either daemon's debug log.
func TestSecuredFleet(t *testing.T) {
	cpBin, agentBin := binaries(t)
	grpcurlBin := buildGRPCurl(t)
	dir := t.TempDir()
	ca := fleettest.NewCA(t, "fleet-ca")
	serverCert, serverKey := ca.Issue(t, dir, "server", "controlplane")
	agentCert, agentKey := ca.Issue(t, dir, "agent", "secure-node")
	toks := map[string]string{"agent": "agent-5e9f0c1d2b3a4958", "admin": "admin-7c6b5a4d3e2f1a0b", "read": "read-0a1b2c3d4e5f6a7b"}
	tokFile := map[string]string{}
	for role, tok := range toks {
		tokFile[role] = filepath.Join(dir, role+".token")
		if err := os.WriteFile(tokFile[role], []byte(tok+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	addr := freeAddr(t)
	cp := startProc(t, cpBin, "--grpc-listen", addr, "--http-listen", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "cp"),
		"--log-level", "debug", "--tls-cert", serverCert, "--tls-key", serverKey, "--client-ca", ca.CertFile,
		"--agent-token-file", tokFile["agent"], "--admin-token-file", tokFile["admin"], "--read-token-file", tokFile["read"])
	ag := startProc(t, agentBin, "--server", addr, "--node-id", "secure-node", "--state-dir", filepath.Join(dir, "agent"),
		"--log-level", "debug", "--interval", "200ms", "--intake-listen", "", "--ca-file", ca.CertFile,
		"--cert-file", agentCert, "--key-file", agentKey, "--token-file", tokFile["agent"])

	tc, err := credential.ClientTLS(ca.CertFile, "", "")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(tc)),
		grpc.WithPerRPCCredentials(credential.Bearer(fleettest.Token(t, toks["read"]), true)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	waitState(t, fleetv1.NewFleetServiceClient(conn), "secure-node", ready, 30*time.Second)

	grpcurl := func(args ...string) (string, error) {
		cmd := exec.Command(grpcurlBin, append([]string{"-cacert", ca.CertFile}, args...)...)
		cmd.Env = append(os.Environ(), "GRPC_GO_LOG_SEVERITY_LEVEL=error")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := grpcurl(addr, "list"); err != nil || !strings.Contains(out, "dspyfleet.v1.FleetService") {
		t.Fatalf("reflection without a token: %v\n%s", err, out)
	}
	if out, err := grpcurl("-H", "authorization: Bearer "+toks["read"], addr, "dspyfleet.v1.FleetService/ListNodes"); err != nil || !strings.Contains(out, "secure-node") {
		t.Fatalf("ListNodes with the read-only token: %v\n%s", err, out)
	}
	if out, err := grpcurl(addr, "dspyfleet.v1.FleetService/ListNodes"); err == nil || !strings.Contains(out, "Unauthenticated") {
		t.Fatalf("ListNodes without a token: %v\n%s", err, out)
	}
	if out, err := grpcurl("-H", "authorization: Bearer "+toks["read"], "-d", `{"id":"secure-node"}`, addr, "dspyfleet.v1.FleetService/DrainNode"); err == nil || !strings.Contains(out, "PermissionDenied") {
		t.Fatalf("DrainNode with the read-only token: %v\n%s", err, out)
	}
	if out, err := grpcurl("-H", "authorization: Bearer "+toks["admin"], "-d", `{"id":"secure-node","reason":"e2e"}`, addr, "dspyfleet.v1.FleetService/DrainNode"); err != nil {
		t.Fatalf("DrainNode with the admin token: %v\n%s", err, out)
	}
	logs := cp.output() + ag.output()
	for role, tok := range toks {
		if strings.Contains(logs, tok) {
			t.Errorf("the %s token is in a daemon's log", role)
		}
	}
}
