package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/dspyfleet/dspyfleet/internal/fleettest"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

const (
	sharedTok = "shared-agent-token-0123456789abcdef"
	adminTok  = "admin-token-0123456789abcdef"
	n1Tok     = "node-one-token-0123456789abcdef"
	n2Tok     = "node-two-token-0123456789abcdef"
)

var servingLine = regexp.MustCompile(`control plane serving" grpc=(127\.0\.0\.1:\d+)`)

// writeFile writes content to name in dir and returns its path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// startTokens starts the control plane as a child process on dataDir with the shared agent
// token, the admin token and the per-node token file nodeTokens, and returns its gRPC address
// and a function that stops it with SIGTERM and checks it exited cleanly.
func startTokens(t *testing.T, dataDir, secrets, nodeTokens string) (string, func()) {
	t.Helper()
	cmd, out := startChild(t, "--grpc-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--data-dir", dataDir,
		"--agent-token-file", filepath.Join(secrets, "shared.token"), "--admin-token-file", filepath.Join(secrets, "admin.token"),
		"--agent-tokens-file", nodeTokens)
	var addr string
	fleettest.Eventually(t, 20*time.Second, "the control plane serving", func() bool {
		m := servingLine.FindStringSubmatch(out.String())
		if m != nil {
			addr = m[1]
		}
		return m != nil
	})
	return addr, func() {
		t.Helper()
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if err := cmd.Wait(); err != nil {
			t.Fatalf("control plane exit: %v\n%s", err, out)
		}
		for _, tok := range []string{sharedTok, adminTok, n1Tok, n2Tok} {
			if strings.Contains(out.String(), tok) {
				t.Fatalf("the control plane logged a token:\n%s", out)
			}
		}
	}
}

// connectNode opens an agent session for node with tok, and returns a function that ends the
// session and the first answer's error.
func connectNode(t *testing.T, addr, tok, node string) (func(), error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s, err := fleetv1.NewAgentServiceClient(fleettest.DialToken(t, addr, fleettest.Token(t, tok))).Connect(ctx)
	if err != nil {
		cancel()
		return func() {}, err
	}
	if err := s.Send(&fleetv1.ConnectRequest{Msg: &fleetv1.ConnectRequest_Hello{Hello: &fleetv1.Hello{
		NodeId: node, InstanceId: "i-" + node, ReportInterval: durationpb.New(time.Minute),
	}}}); err != nil {
		cancel()
		return func() {}, err
	}
	m, err := s.Recv()
	if err == nil && m.GetWelcome() == nil {
		t.Fatalf("want Welcome, got %v", m)
	}
	if err != nil {
		cancel()
		return func() {}, err
	}
	return cancel, nil
}

func wantDenied(t *testing.T, err error, msgPart string) {
	t.Helper()
	if st := status.Convert(err); st.Code() != codes.PermissionDenied || !strings.Contains(st.Message(), msgPart) {
		t.Fatalf("want PermissionDenied containing %q, got %s: %s", msgPart, st.Code(), st.Message())
	}
}

// waitOffline waits until the control plane no longer has a session for node.
func waitOffline(t *testing.T, addr, node string) {
	t.Helper()
	admin := fleetv1.NewFleetServiceClient(fleettest.DialToken(t, addr, fleettest.Token(t, adminTok)))
	fleettest.Eventually(t, 10*time.Second, node+" offline", func() bool {
		st := fleettest.NodeState(admin, node)
		return st != fleetv1.NodeState_NODE_STATE_READY && st != fleetv1.NodeState_NODE_STATE_UNSPECIFIED
	})
}

// TestNodeBindingAcrossRestarts runs the control plane as a child process: a node registered
// with its per-node token is bound to it, so while it is offline the shared agent token cannot
// take its id, across restarts on the same state file and even once its line left the token
// file; its own token still works; `controlplane unbind-node` lists and removes the binding,
// after which the shared token may register the id.
func TestNodeBindingAcrossRestarts(t *testing.T) {
	secrets, dataDir := t.TempDir(), t.TempDir()
	writeFile(t, secrets, "shared.token", sharedTok+"\n")
	writeFile(t, secrets, "admin.token", adminTok+"\n")
	withN1 := writeFile(t, secrets, "with-n1.tokens", "n1 "+n1Tok+"\nn2 "+n2Tok+"\n")
	withoutN1 := writeFile(t, secrets, "without-n1.tokens", "n2 "+n2Tok+"\n")

	addr, stop := startTokens(t, dataDir, secrets, withN1)
	// Before n1 ever registered, its line in the token file keeps the shared token off it.
	_, err := connectNode(t, addr, sharedTok, "n1")
	wantDenied(t, err, `node "n1" has a per-node token in --agent-tokens-file`)
	end, err := connectNode(t, addr, n1Tok, "n1")
	if err != nil {
		t.Fatalf("n1 with its per-node token: %v", err)
	}
	end()
	waitOffline(t, addr, "n1")
	_, err = connectNode(t, addr, sharedTok, "n1")
	wantDenied(t, err, `node "n1" is bound to its per-node token`)
	_, err = connectNode(t, addr, n2Tok, "n1")
	wantDenied(t, err, `the token is node "n2"'s, not "n1"'s`)
	end, err = connectNode(t, addr, sharedTok, "n3")
	if err != nil {
		t.Fatalf("the shared token for an unbound node: %v", err)
	}
	end()
	admin := fleetv1.NewFleetServiceClient(fleettest.DialToken(t, addr, fleettest.Token(t, adminTok)))
	resp, err := admin.ListAudit(context.Background(), &fleetv1.ListAuditRequest{Kinds: []fleetv1.AuditKind{fleetv1.AuditKind_AUDIT_KIND_SECURITY}, Target: "n1"})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range resp.GetRecords() {
		found = found || r.GetEvent() == fleetv1.SecurityEvent_SECURITY_EVENT_IDENTITY_MISMATCH && r.GetIdentity() == "agent" &&
			strings.Contains(r.GetDetail(), "is bound to its per-node token") && r.GetCode() == codes.PermissionDenied.String()
	}
	if !found {
		t.Fatalf("no identity-mismatch record of the shared token refused for n1: %v", resp.GetRecords())
	}
	stop()

	// Restarted on the same state file: still bound, and its own token still works.
	addr, stop = startTokens(t, dataDir, secrets, withN1)
	_, err = connectNode(t, addr, sharedTok, "n1")
	wantDenied(t, err, `node "n1" is bound to its per-node token`)
	end, err = connectNode(t, addr, n1Tok, "n1")
	if err != nil {
		t.Fatalf("n1 with its per-node token after the restart: %v", err)
	}
	end()
	stop()

	// Its line gone from the file, the binding alone keeps the shared token off it.
	addr, stop = startTokens(t, dataDir, secrets, withoutN1)
	_, err = connectNode(t, addr, sharedTok, "n1")
	wantDenied(t, err, `node "n1" is bound to its per-node token`)
	stop()

	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"unbind-node", "--data-dir", dataDir}, &out, &errOut); err != nil || !strings.Contains(out.String(), "n1\tbound to its token since ") {
		t.Fatalf("unbind-node listing: %v, %q", err, out.String())
	}
	out.Reset()
	err = run(context.Background(), []string{"unbind-node", "--data-dir", dataDir, "n1", "n3"}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), `node "n3": the node is not bound`) || !strings.Contains(out.String(), "n1: binding to its token (since ") {
		t.Fatalf("unbind-node n1 n3: %v, %q", err, out.String())
	}
	if err := run(context.Background(), []string{"unbind-node", "--data-dir", t.TempDir(), "n1"}, &out, &errOut); err == nil || !strings.Contains(err.Error(), "holds no state file") {
		t.Fatalf("unbind-node on an empty directory: %v", err)
	}

	addr, stop = startTokens(t, dataDir, secrets, withoutN1)
	end, err = connectNode(t, addr, sharedTok, "n1")
	if err != nil {
		t.Fatalf("the shared token for n1 after unbind-node: %v", err)
	}
	end()
	stop()
}

// TestUnbindNodeWhileRunning: unbind-node refuses a data directory a control plane holds.
func TestUnbindNodeWhileRunning(t *testing.T) {
	secrets, dataDir := t.TempDir(), t.TempDir()
	writeFile(t, secrets, "shared.token", sharedTok+"\n")
	writeFile(t, secrets, "admin.token", adminTok+"\n")
	_, stop := startTokens(t, dataDir, secrets, writeFile(t, secrets, "nodes.tokens", "n1 "+n1Tok+"\n"))
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"unbind-node", "--data-dir", dataDir, "--lock-timeout", "100ms", "n1"}, &out, &errOut); err == nil || !strings.Contains(err.Error(), "in use by another control plane") {
		t.Fatalf("unbind-node on a running control plane's directory: %v", err)
	}
	stop()
}
