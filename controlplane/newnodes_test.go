package controlplane_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	"github.com/dspyfleet/dspyfleet/internal/fleettest"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// helloOn opens a session for id on conn, returning a func that ends the session and the first
// answer's error.
func helloOn(t *testing.T, conn *grpc.ClientConn, id string) (func(), error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	s, err := fleetv1.NewAgentServiceClient(conn).Connect(ctx)
	if err != nil {
		cancel()
		return cancel, err
	}
	send(t, s, hello(id, "i-"+id))
	m, err := s.Recv()
	if err == nil && m.GetWelcome() == nil {
		t.Fatalf("%s: want Welcome, got %v", id, m)
	}
	return cancel, err
}

// TestNewNodeFloodIsLimitedPerCredential: with --max-new-nodes-per-minute 10, a flood of 100 new
// node ids under one credential (the agent token) registers 10; the other 90 are refused with
// RESOURCE_EXHAUSTED naming the flag, recorded once as a security event and counted. The
// accepted nodes reconnect freely, and another credential keeps its own allowance.
func TestNewNodeFloodIsLimitedPerCredential(t *testing.T) {
	logs := &lockedBuffer{}
	cfg := tokenConfig(t, logs)
	base := time.Now()
	cfg.Now = func() time.Time { return base } // no token comes back during the test
	cfg.MaxNewNodesPerMinute = 10
	cfg.AgentBurst = 1000 // the call rate limit is not under test
	cfg.AgentTokensFile = filepath.Join(t.TempDir(), "agents.tokens")
	if err := os.WriteFile(cfg.AgentTokensFile, []byte("own-node own-node-token-0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cp := fleettest.StartControlPlane(t, cfg)
	agent := fleettest.DialToken(t, cp.GRPCAddr(), fleettest.Token(t, agentTok))
	admin := fleetAs(t, cp, adminTok)

	var accepted []string
	var ends []func()
	for i := range 100 {
		id := fmt.Sprintf("flood-%03d", i)
		end, err := helloOn(t, agent, id)
		if err == nil {
			accepted, ends = append(accepted, id), append(ends, end)
			continue
		}
		wantCode(t, err, codes.ResourceExhausted, "--max-new-nodes-per-minute (10)")
		if i < 10 {
			t.Fatalf("%s refused within the allowance: %v", id, err)
		}
	}
	if len(accepted) != 10 {
		t.Fatalf("accepted %d new nodes, want 10", len(accepted))
	}
	if got := nodeIDs(t, admin); len(got) != 10 {
		t.Fatalf("nodes %v, want the 10 accepted", got)
	}
	for _, end := range ends {
		end()
	}
	for _, id := range accepted {
		fleettest.Eventually(t, 5*time.Second, id+" disconnected", func() bool {
			return fleettest.NodeState(admin, id) == fleetv1.NodeState_NODE_STATE_DISCONNECTED
		})
		if _, err := helloOn(t, agent, id); err != nil {
			t.Fatalf("reconnect of known node %s: %v", id, err)
		}
	}
	if _, err := helloOn(t, fleettest.DialToken(t, cp.GRPCAddr(), fleettest.Token(t, "own-node-token-0123456789abcdef")), "own-node"); err != nil {
		t.Fatalf("a per-node token, its own credential: %v", err)
	}

	recs := listAudit(t, admin, &fleetv1.ListAuditRequest{Kinds: []fleetv1.AuditKind{fleetv1.AuditKind_AUDIT_KIND_SECURITY}})
	var throttled []*fleetv1.AuditRecord
	for _, r := range recs {
		if r.GetEvent() == fleetv1.SecurityEvent_SECURITY_EVENT_NEW_NODE_THROTTLED {
			throttled = append(throttled, r)
		}
	}
	if len(throttled) != 1 || throttled[0].GetIdentity() != "agent" || throttled[0].GetTarget() != "flood-010" ||
		throttled[0].GetCode() != codes.ResourceExhausted.String() || !strings.Contains(throttled[0].GetDetail(), "--max-new-nodes-per-minute") {
		t.Fatalf("NEW_NODE_THROTTLED records %v, want one for the first refusal (flood-010, identity agent)", throttled)
	}
	if body := scrape(t, cp); !strings.Contains(body, "dspyfleet_new_nodes_refused_total 90") {
		t.Errorf("/metrics lacks dspyfleet_new_nodes_refused_total 90")
	}
}
