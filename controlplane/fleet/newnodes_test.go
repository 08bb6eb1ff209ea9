package fleet

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/dspyfleet/dspyfleet/controlplane/check"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// TestNewNodeLimitPerCredential: each credential registers at most its bucket of new ids, then
// one a minute per 60/min; known ids reconnect freely; another credential has its own bucket;
// the first refusal of a run is recorded, the next ones within a minute are not.
func TestNewNodeLimitPerCredential(t *testing.T) {
	now := testNow
	r := NewRegistry(func() time.Time { return now }, Liveness{Grace: time.Second, DefaultInterval: time.Second}, 1024)
	r.NewNodes = NewRegisterLimit(3)
	attach := func(cred, id string) error {
		h := &fleetv1.Hello{NodeId: id, InstanceId: "i-" + id, ReportInterval: durationpb.New(time.Second)}
		_, _, err := r.AttachFor(h, "peer", cred, func(error) {})
		return err
	}
	var records []bool
	for i := range 6 {
		err := attach("agent", fmt.Sprintf("n%d", i))
		var rr *RegisterRefusal
		switch {
		case i < 3 && err != nil:
			t.Fatalf("new node %d: %v", i, err)
		case i >= 3 && (!errors.Is(err, check.ErrNewNodeRate) || !errors.As(err, &rr)):
			t.Fatalf("new node %d past the limit: %v, want a RegisterRefusal", i, err)
		case i >= 3:
			records = append(records, rr.Record)
		}
	}
	if fmt.Sprint(records) != "[true false false]" {
		t.Fatalf("recorded refusals %v, want only the first", records)
	}
	if err := attach("agent", "n0"); err != nil {
		t.Fatalf("a known node reconnecting: %v", err)
	}
	if err := attach("node:x", "x"); err != nil {
		t.Fatalf("another credential: %v", err)
	}
	if err := attach("", "no-credential"); err != nil {
		t.Fatalf("no credential (authentication off): %v", err)
	}
	now = now.Add(20 * time.Second) // one token back at 3 a minute
	if err := attach("agent", "n3"); err != nil {
		t.Fatalf("after 20s: %v", err)
	}
	if err := attach("agent", "n4"); !errors.Is(err, check.ErrNewNodeRate) {
		t.Fatalf("second after 20s: %v", err)
	}
	if got := r.NewNodes.Refused(); got != 4 {
		t.Fatalf("Refused = %d, want 4", got)
	}
	if NewRegisterLimit(0) != nil {
		t.Fatal("a limit of 0 is not nil (no limit)")
	}
}
