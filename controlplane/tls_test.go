package controlplane_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"

	"github.com/dspyfleet/dspyfleet/controlplane"
	"github.com/dspyfleet/dspyfleet/internal/credential"
	"github.com/dspyfleet/dspyfleet/internal/fleettest"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// mtlsFleet is a control plane serving TLS with client certificates checked against ca.
type mtlsFleet struct {
	cp       *fleettest.ControlPlane
	ca       *fleettest.CA
	dir      string
	certFile string
	keyFile  string
}

func startMTLS(t *testing.T, mods ...func(*controlplane.Config)) *mtlsFleet {
	f := &mtlsFleet{ca: fleettest.NewCA(t, "fleet-ca"), dir: t.TempDir()}
	f.certFile, f.keyFile = f.ca.Issue(t, f.dir, "server", "controlplane")
	cfg := fleettest.FastConfig(t)
	cfg.TLSCert, cfg.TLSKey, cfg.ClientCA = f.certFile, f.keyFile, f.ca.CertFile
	cfg.AdminToken = fleettest.Token(t, adminTok)
	for _, mod := range mods {
		mod(&cfg)
	}
	f.cp = fleettest.StartControlPlane(t, cfg)
	return f
}

// dial connects over TLS trusting caFile, presenting cert and key when given.
func dialTLS(t *testing.T, addr, caFile, cert, key string, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	tc, err := credential.ClientTLS(caFile, cert, key)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(addr, append(opts, grpc.WithTransportCredentials(credentials.NewTLS(tc)))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

func (f *mtlsFleet) admin(t *testing.T) fleetv1.FleetServiceClient {
	return fleetv1.NewFleetServiceClient(dialTLS(t, f.cp.GRPCAddr(), f.ca.CertFile, "", "",
		grpc.WithPerRPCCredentials(credential.Bearer(fleettest.Token(t, adminTok), true))))
}

func TestMTLSNodeIdentity(t *testing.T) {
	f := startMTLS(t)
	other := fleettest.NewCA(t, "other-ca")
	aCert, aKey := f.ca.Issue(t, t.TempDir(), "a", "node-a")
	foreignCert, foreignKey := other.Issue(t, t.TempDir(), "foreign", "node-a")
	addr := f.cp.GRPCAddr()

	if err := connectAs(t, dialTLS(t, addr, f.ca.CertFile, aCert, aKey), "node-a"); err != nil {
		t.Fatalf("node-a with its certificate: %v", err)
	}
	t.Run("certificate for node A cannot register as node B", func(t *testing.T) {
		wantCode(t, connectAs(t, dialTLS(t, addr, f.ca.CertFile, aCert, aKey), "node-b"), codes.PermissionDenied, `is for node "node-a", not "node-b"`)
	})
	t.Run("certificate from another CA is refused", func(t *testing.T) {
		wantCode(t, connectAs(t, dialTLS(t, addr, f.ca.CertFile, foreignCert, foreignKey), "node-a"), codes.Unavailable, "")
	})
	t.Run("no certificate", func(t *testing.T) {
		wantCode(t, connectAs(t, dialTLS(t, addr, f.ca.CertFile, "", ""), "node-c"), codes.Unauthenticated, "no credential")
	})
	t.Run("agent verifies the server", func(t *testing.T) {
		wantCode(t, connectAs(t, dialTLS(t, addr, other.CertFile, aCert, aKey), "node-a"), codes.Unavailable, "")
	})
	t.Run("plaintext is refused", func(t *testing.T) {
		wantCode(t, connectAs(t, fleettest.Dial(t, addr), "node-a"), codes.Unavailable, "")
	})
	admin := f.admin(t)
	waitAudit(t, admin, &fleetv1.AuditRecord{Kind: fleetv1.AuditKind_AUDIT_KIND_SECURITY, Event: fleetv1.SecurityEvent_SECURITY_EVENT_IDENTITY_MISMATCH, Target: "node-b", Identity: "node:node-a"})
	if _, err := admin.GetNode(context.Background(), &fleetv1.GetNodeRequest{Id: "node-a"}); err != nil {
		t.Fatalf("node-a was not registered: %v", err)
	}
	for _, id := range []string{"node-b", "node-c"} {
		if _, err := admin.GetNode(context.Background(), &fleetv1.GetNodeRequest{Id: id}); err == nil {
			t.Errorf("%s was registered", id)
		}
	}
}

// serverSerial makes a new TLS connection and returns the serial of the certificate served.
func serverSerial(t *testing.T, addr, caFile string) string {
	t.Helper()
	pool, err := credential.LoadCertPool(caFile)
	if err != nil {
		t.Fatal(err)
	}
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber.String()
}

func fileSerial(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(data)
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c.SerialNumber.String()
}

func TestTLSCertificateReload(t *testing.T) {
	f := startMTLS(t)
	aCert, aKey := f.ca.Issue(t, t.TempDir(), "a", "node-a")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream, err := fleetv1.NewAgentServiceClient(dialTLS(t, f.cp.GRPCAddr(), f.ca.CertFile, aCert, aKey)).Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	send(t, stream, hello("node-a", "i-1"))
	if m, err := stream.Recv(); err != nil || m.GetWelcome() == nil {
		t.Fatalf("want Welcome: %v %v", m, err)
	}
	old := serverSerial(t, f.cp.GRPCAddr(), f.ca.CertFile)

	// Renew the server certificate in place, with a later modification time.
	f.ca.Issue(t, f.dir, "server", "controlplane")
	later := time.Now().Add(time.Minute)
	for _, p := range []string{f.certFile, f.keyFile} {
		if err := os.Chtimes(p, later, later); err != nil {
			t.Fatal(err)
		}
	}
	renewed := fileSerial(t, f.certFile)
	if got := serverSerial(t, f.cp.GRPCAddr(), f.ca.CertFile); got != renewed || got == old {
		t.Fatalf("new connections get certificate %s, want the renewed %s (old %s)", got, renewed, old)
	}
	// The session opened before the renewal still works.
	send(t, stream, report(1, 10))
	waitAck(t, stream, 1)

	// HTTP is served over TLS with the same certificate.
	pool, _ := credential.LoadCertPool(f.ca.CertFile)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer client.CloseIdleConnections()
	resp, err := client.Get("https://" + f.cp.HTTPAddr() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz over TLS: %s", resp.Status)
	}
}

func TestTLSConfigErrors(t *testing.T) {
	ca := fleettest.NewCA(t, "ca")
	cert, key := ca.Issue(t, t.TempDir(), "s", "s")
	for name, mod := range map[string]func(*controlplane.Config){
		"cert without key":      func(c *controlplane.Config) { c.TLSCert = cert },
		"client CA without TLS": func(c *controlplane.Config) { c.ClientCA = ca.CertFile },
	} {
		cfg := fleettest.FastConfig(t)
		mod(&cfg)
		if err := cfg.Validate(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	cfg := fleettest.FastConfig(t)
	cfg.TLSCert, cfg.TLSKey = cert, filepath.Join(t.TempDir(), "missing.key")
	if _, err := controlplane.New(cfg); err == nil {
		t.Error("missing key file: no error")
	}
	cfg.TLSKey = key
	cfg.ClientCA = cert + ".missing"
	if _, err := controlplane.New(cfg); err == nil {
		t.Error("missing client CA: no error")
	}
}

// TestAgentRateLimitPerCertificate: agents sharing the agent token but holding their own
// certificates are limited apart, per node.
func TestAgentRateLimitPerCertificate(t *testing.T) {
	f := startMTLS(t, func(c *controlplane.Config) {
		c.AgentToken, c.AgentRate, c.AgentBurst = fleettest.Token(t, agentTok), 0.1, 1
	})
	dial := func(node string) *grpc.ClientConn {
		cert, key := f.ca.Issue(t, t.TempDir(), node, node)
		return dialTLS(t, f.cp.GRPCAddr(), f.ca.CertFile, cert, key, grpc.WithPerRPCCredentials(credential.Bearer(fleettest.Token(t, agentTok), true)))
	}
	a, b := dial("node-a"), dial("node-b")
	if err := connectAs(t, a, "node-a"); err != nil {
		t.Fatal(err)
	}
	if err := connectAs(t, b, "node-b"); err != nil {
		t.Fatalf("node-b limited by node-a's calls: %v", err)
	}
	wantCode(t, connectAs(t, a, "node-a"), codes.ResourceExhausted, "node:node-a")
}

// TestCertificateBindingOutlivesClientCA: a node registered with its client certificate is
// bound to it; after a restart on the same state file without --client-ca (so no certificate
// is checked any more), the shared agent token still cannot take the node's id, while it may
// register a node that was never bound.
func TestCertificateBindingOutlivesClientCA(t *testing.T) {
	f := startMTLS(t, func(c *controlplane.Config) { c.AgentToken = fleettest.Token(t, agentTok) })
	aCert, aKey := f.ca.Issue(t, t.TempDir(), "a", "node-a")
	if err := connectAs(t, dialTLS(t, f.cp.GRPCAddr(), f.ca.CertFile, aCert, aKey), "node-a"); err != nil {
		t.Fatalf("node-a with its certificate: %v", err)
	}
	f.cp.Stop(t)

	cfg := f.cp.Config
	cfg.ClientCA = ""
	cp := fleettest.StartControlPlane(t, cfg)
	shared := func() *grpc.ClientConn {
		return dialTLS(t, cp.GRPCAddr(), f.ca.CertFile, "", "", grpc.WithPerRPCCredentials(credential.Bearer(fleettest.Token(t, agentTok), true)))
	}
	wantCode(t, connectAs(t, shared(), "node-a"), codes.PermissionDenied, `node "node-a" is bound to its client certificate`)
	if err := connectAs(t, shared(), "node-z"); err != nil {
		t.Fatalf("the shared token for a node never bound: %v", err)
	}
	admin := fleetv1.NewFleetServiceClient(dialTLS(t, cp.GRPCAddr(), f.ca.CertFile, "", "",
		grpc.WithPerRPCCredentials(credential.Bearer(fleettest.Token(t, adminTok), true))))
	waitAudit(t, admin, &fleetv1.AuditRecord{Kind: fleetv1.AuditKind_AUDIT_KIND_SECURITY, Event: fleetv1.SecurityEvent_SECURITY_EVENT_IDENTITY_MISMATCH, Identity: "agent", Target: "node-a"})
}
