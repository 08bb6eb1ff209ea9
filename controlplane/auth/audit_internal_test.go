package auth

import (
	"log/slog"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dspyfleet/dspyfleet/controlplane/store"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

func TestAuditPruneAndSince(t *testing.T) {
	st, err := store.Open(t.TempDir(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a := &AuditLog{store: st, now: func() time.Time { return now }, log: slog.New(slog.DiscardHandler), retention: time.Hour}
	for _, target := range []string{"old", "mid", "new"} {
		a.add(&fleetv1.AuditRecord{Kind: fleetv1.AuditKind_AUDIT_KIND_ADMIN_CALL, Target: target})
		now = now.Add(40 * time.Minute)
	}
	// Records at now-120m, now-80m and now-40m.
	recs, _, _, err := a.List(&fleetv1.ListAuditRequest{Since: timestamppb.New(now.Add(-time.Hour))}, nil, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].GetTarget() != "new" {
		t.Fatalf("since: %v", recs)
	}
	if err := a.Prune(); err != nil {
		t.Fatal(err)
	}
	recs, _, _, err = a.List(&fleetv1.ListAuditRequest{}, nil, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].GetTarget() != "new" {
		t.Fatalf("after pruning records older than 1h: %v", recs)
	}
}
