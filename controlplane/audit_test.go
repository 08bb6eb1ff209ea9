package controlplane_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/dspyfleet/dspyfleet/internal/fleettest"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// findAudit returns the first record matching want's kind, event, method, identity and target
// (empty fields match anything).
func findAudit(recs []*fleetv1.AuditRecord, want *fleetv1.AuditRecord) *fleetv1.AuditRecord {
	for _, r := range recs {
		if r.GetKind() == want.GetKind() && r.GetEvent() == want.GetEvent() &&
			(want.GetMethod() == "" || r.GetMethod() == want.GetMethod()) &&
			(want.GetIdentity() == "" || r.GetIdentity() == want.GetIdentity()) &&
			(want.GetTarget() == "" || r.GetTarget() == want.GetTarget()) {
			return r
		}
	}
	return nil
}

func listAudit(t *testing.T, c fleetv1.FleetServiceClient, req *fleetv1.ListAuditRequest) []*fleetv1.AuditRecord {
	t.Helper()
	resp, err := c.ListAudit(context.Background(), req)
	if err != nil {
		t.Fatalf("ListAudit: %v", err)
	}
	return resp.GetRecords()
}

// waitAudit waits for a record like want and returns it.
func waitAudit(t *testing.T, c fleetv1.FleetServiceClient, want *fleetv1.AuditRecord) *fleetv1.AuditRecord {
	t.Helper()
	var got *fleetv1.AuditRecord
	fleettest.Eventually(t, 5*time.Second, "audit record "+want.String(), func() bool {
		got = findAudit(listAudit(t, c, &fleetv1.ListAuditRequest{}), want)
		return got != nil
	})
	return got
}

func TestAuditTrail(t *testing.T) {
	cfg := tokenConfig(t, &lockedBuffer{})
	cp := fleettest.StartControlPlane(t, cfg)
	ctx := context.Background()
	agentConn := fleettest.DialToken(t, cp.GRPCAddr(), fleettest.Token(t, agentTok))
	stream, err := fleetv1.NewAgentServiceClient(agentConn).Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// A long interval keeps n1 alive without reports, so the second agent below is a duplicate.
	h := hello("n1", "i-1")
	h.GetHello().ReportInterval = durationpb.New(time.Minute)
	send(t, stream, h)
	if m, err := stream.Recv(); err != nil || m.GetWelcome() == nil {
		t.Fatalf("want Welcome: %v %v", m, err)
	}
	admin := fleetAs(t, cp, adminTok)

	// An admin call that changes state, and one that reads (not recorded).
	drain, err := admin.DrainNode(ctx, &fleetv1.DrainNodeRequest{Id: "n1", Reason: "kernel"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.ListNodes(ctx, &fleetv1.ListNodesRequest{}); err != nil {
		t.Fatal(err)
	}
	// The agent refuses the drain command without accepting it.
	for {
		m, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if m.GetCommand().GetId() == drain.GetCommand().GetCommand().GetId() {
			break
		}
	}
	send(t, stream, &fleetv1.ConnectRequest{Msg: &fleetv1.ConnectRequest_CommandUpdate{CommandUpdate: &fleetv1.CommandUpdate{
		Id: drain.GetCommand().GetCommand().GetId(), State: fleetv1.CommandState_COMMAND_STATE_FAILED, Detail: "refused: no drain here",
	}}})
	// Security events: a wrong token, a denied call, a duplicate node.
	_, err = fleetAs(t, cp, wrongTok).ListNodes(ctx, &fleetv1.ListNodesRequest{})
	wantCode(t, err, codes.Unauthenticated, "")
	_, err = fleetAs(t, cp, readTok).UndrainNode(ctx, &fleetv1.UndrainNodeRequest{Id: "n1"})
	wantCode(t, err, codes.PermissionDenied, "")
	dup, err := fleetv1.NewAgentServiceClient(agentConn).Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	send(t, dup, hello("n1", "i-2"))
	wantStatus(t, dup, codes.AlreadyExists, "")

	call := waitAudit(t, admin, &fleetv1.AuditRecord{Kind: fleetv1.AuditKind_AUDIT_KIND_ADMIN_CALL, Method: fleetv1.FleetService_DrainNode_FullMethodName})
	if call.GetIdentity() != "admin" || call.GetTarget() != "n1" || call.GetCode() != "OK" || call.GetTime() == nil || call.GetPeer() == "" {
		t.Fatalf("admin call record: %v", call)
	}
	sec := fleetv1.AuditKind_AUDIT_KIND_SECURITY
	waitAudit(t, admin, &fleetv1.AuditRecord{Kind: sec, Event: fleetv1.SecurityEvent_SECURITY_EVENT_COMMAND_REFUSED, Target: drain.GetCommand().GetCommand().GetId()})
	waitAudit(t, admin, &fleetv1.AuditRecord{Kind: sec, Event: fleetv1.SecurityEvent_SECURITY_EVENT_AUTH_FAILED, Method: fleetv1.FleetService_ListNodes_FullMethodName})
	waitAudit(t, admin, &fleetv1.AuditRecord{Kind: sec, Event: fleetv1.SecurityEvent_SECURITY_EVENT_PERMISSION_DENIED, Identity: "read-only", Method: fleetv1.FleetService_UndrainNode_FullMethodName})
	waitAudit(t, admin, &fleetv1.AuditRecord{Kind: sec, Event: fleetv1.SecurityEvent_SECURITY_EVENT_DUPLICATE_NODE, Target: "n1"})

	all := listAudit(t, admin, &fleetv1.ListAuditRequest{})
	if findAudit(all, &fleetv1.AuditRecord{Kind: fleetv1.AuditKind_AUDIT_KIND_ADMIN_CALL, Method: fleetv1.FleetService_ListNodes_FullMethodName}) != nil {
		t.Fatal("a read call was recorded as an admin call")
	}
	for i := 1; i < len(all); i++ {
		if all[i].GetId() >= all[i-1].GetId() {
			t.Fatalf("records not newest first: %s then %s", all[i-1].GetId(), all[i].GetId())
		}
	}
	onlyAdmin := listAudit(t, admin, &fleetv1.ListAuditRequest{Kinds: []fleetv1.AuditKind{fleetv1.AuditKind_AUDIT_KIND_ADMIN_CALL}})
	if len(onlyAdmin) != 1 {
		t.Fatalf("admin calls: %v", onlyAdmin)
	}
	if got := listAudit(t, admin, &fleetv1.ListAuditRequest{Limit: 2}); len(got) != 2 {
		t.Fatalf("limit 2: %d records", len(got))
	}
	_, err = admin.ListAudit(ctx, &fleetv1.ListAuditRequest{Kinds: []fleetv1.AuditKind{42}})
	wantCode(t, err, codes.InvalidArgument, "kinds")

	// The trail survives a restart.
	cp.Stop(t)
	cp2 := fleettest.StartControlPlane(t, cfg)
	if got := listAudit(t, fleetAs(t, cp2, readTok), &fleetv1.ListAuditRequest{}); len(got) != len(all) {
		t.Fatalf("after a restart: %d records, want %d", len(got), len(all))
	}
}
