package main

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dspyfleet/dspyfleet/agent"
	"github.com/dspyfleet/dspyfleet/internal/credential"
	"github.com/dspyfleet/dspyfleet/internal/fleettest"
)

// TestTLSCertificatesRunAFleet: the CA and certificates "fleetctl tls" writes run a control
// plane with TLS and mTLS, an agent registered by its certificate's node id, and fleetctl
// verifying the server against the CA; keys are 0600 and nothing is overwritten.
func TestTLSCertificatesRunAFleet(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"tls", "ca", "create", "--dir", dir},
		{"tls", "cert", "create", "--server", "--dir", dir, "--dns", "cp.internal", "--ip", "10.1.2.3"},
		{"tls", "cert", "create", "--agent", "gpu-7", "--dir", dir},
	} {
		if res := runCLI(t, args...); res.code != exitOK || !strings.Contains(res.stdout, "(private key, mode 0600)") {
			t.Fatalf("%v: %+v", args, res)
		}
	}
	agentCert, agentKey := credential.AgentFiles("gpu-7")
	for _, key := range []string{credential.CAKeyFile, credential.ServerKeyFile, agentKey} {
		if fi, err := os.Stat(filepath.Join(dir, key)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v, mode %v; want 0600", key, err, fi.Mode().Perm())
		}
	}
	server := readCert(t, filepath.Join(dir, credential.ServerFile))
	if err := server.VerifyHostname("cp.internal"); err != nil {
		t.Fatalf("server certificate: %v", err)
	}
	if err := server.VerifyHostname("10.1.2.3"); err != nil {
		t.Fatalf("server certificate: %v", err)
	}
	if c := readCert(t, filepath.Join(dir, agentCert)); c.Subject.CommonName != "gpu-7" || c.ExtKeyUsage[0] != x509.ExtKeyUsageClientAuth {
		t.Fatalf("agent certificate: CN %q, usage %v", c.Subject.CommonName, c.ExtKeyUsage)
	}

	cfg := fleettest.FastConfig(t)
	cfg.TLSCert, cfg.TLSKey, cfg.ClientCA = filepath.Join(dir, credential.ServerFile), filepath.Join(dir, credential.ServerKeyFile), filepath.Join(dir, credential.CAFile)
	cfg.AdminToken = fleettest.Token(t, "admin-0123456789abcdef")
	cp := fleettest.StartControlPlane(t, cfg)
	acfg := agent.DefaultConfig()
	acfg.Server, acfg.NodeID, acfg.Interval = cp.GRPCAddr(), "gpu-7", 100*time.Millisecond
	acfg.StateDir, acfg.Logger = t.TempDir(), fleettest.Logger(t)
	acfg.CAFile, acfg.CertFile, acfg.KeyFile = cfg.ClientCA, filepath.Join(dir, agentCert), filepath.Join(dir, agentKey)
	runAgent(t, acfg)
	t.Setenv("DSPYFLEET_ADDR", cp.GRPCAddr())
	t.Setenv("DSPYFLEET_TOKEN", "admin-0123456789abcdef")
	fleettest.Eventually(t, 10*time.Second, "gpu-7 ready over mTLS", func() bool {
		res := runCLI(t, "--ca-file", cfg.ClientCA, "nodes", "get", "gpu-7")
		return strings.Contains(res.stdout, "State:           ready\n")
	})
	if res := runCLI(t, "nodes", "get", "gpu-7"); res.code == exitOK {
		t.Fatalf("fleetctl without the CA trusted the server: %+v", res)
	}
	t.Setenv("DSPYFLEET_CACERT", cfg.ClientCA)
	if res := runCLI(t, "nodes", "get", "gpu-7"); res.code != exitOK || !strings.Contains(res.stdout, "gpu-7") {
		t.Fatalf("fleetctl with $DSPYFLEET_CACERT: %+v", res)
	}

	if res := runCLI(t, "tls", "ca", "create", "--dir", dir); res.code != exitError || !strings.Contains(res.stderr, "exists") {
		t.Fatalf("a second CA over the first: %+v", res)
	}
	if res := runCLI(t, "tls", "cert", "create", "--agent", "bad id", "--dir", dir); res.code != exitUsage || !strings.Contains(res.stderr, "not a valid node id") {
		t.Fatalf("a bad node id: %+v", res)
	}
	if res := runCLI(t, "tls", "cert", "create", "--server", "--dir", t.TempDir()); res.code != exitError || !strings.Contains(res.stderr, "fleetctl tls ca create") {
		t.Fatalf("no CA: %+v", res)
	}
	if res := runCLI(t, "tls", "cert", "create", "--agent", "n1", "--days", "4000", "--dir", dir); res.code != exitError || !strings.Contains(res.stderr, "outlive its CA") {
		t.Fatalf("past the CA: %+v", res)
	}
	if res := runCLI(t, "tls", "cert", "create", "--dir", dir); res.code != exitUsage || !strings.Contains(res.stderr, "give --server or --agent NODE") {
		t.Fatalf("neither kind: %+v", res)
	}
}

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(raw)
	if b == nil {
		t.Fatalf("%s: no PEM block", path)
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
