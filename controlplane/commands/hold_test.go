package commands

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dspyfleet/dspyfleet/controlplane/store"
	"github.com/dspyfleet/dspyfleet/internal/wire"
	"github.com/dspyfleet/dspyfleet/pkg/maintenance"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// nightly opens at 02:00 UTC every day.
type nightly struct{}

func (nightly) Next(t time.Time) time.Time {
	t = t.UTC()
	next := time.Date(t.Year(), t.Month(), t.Day(), 2, 0, 0, 0, time.UTC)
	if !next.After(t) {
		next = next.AddDate(0, 0, 1)
	}
	return next
}

// holdRig is a queue on a real store with a clock the test moves and a holder deciding with
// maintenance.HoldFor over the windows the test sets: nodes n1 and n2 are in pool P.
type holdRig struct {
	st *store.Store
	q  *Queue

	mu      sync.Mutex
	now     time.Time
	windows []maintenance.PolicyWindow
}

func newHoldRig(t *testing.T) *holdRig {
	t.Helper()
	st, err := store.Open(t.TempDir(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	r := &holdRig{st: st, now: time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC),
		windows: []maintenance.PolicyWindow{{ID: "w1", Spec: maintenance.WindowSpec{Pool: "P", Cron: "0 2 * * *", Schedule: nightly{}, Duration: time.Hour}}}}
	r.q = r.queue()
	return r
}

// queue returns a queue on the rig's store, clock and holder.
func (r *holdRig) queue() *Queue {
	q := NewQueue(r.clock, r.st, time.Hour, 16)
	q.SetHolder(func(node string, kind fleetv1.CommandKind, params map[string]string, now time.Time) maintenance.Hold {
		r.mu.Lock()
		defer r.mu.Unlock()
		return maintenance.HoldFor("P", node, maintenance.Disruptive(wire.CommandKind(kind), params, 0), r.windows, now)
	})
	return q
}

func (r *holdRig) clock() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.now
}

func (r *holdRig) set(t time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.now = t
}

func (r *holdRig) submit(t *testing.T, kind fleetv1.CommandKind, gate Gate) (*fleetv1.CommandRecord, maintenance.Hold) {
	t.Helper()
	rec, hold, err := r.q.Submit(context.Background(), "n1", kind, nil, DefaultTimeout, "test", "", gate)
	if err != nil {
		t.Fatal(err)
	}
	return rec, hold
}

// unsent returns the ids Unsent hands a new session of n1.
func unsent(q *Queue, session uint64) []string {
	var ids []string
	for _, c := range q.Unsent("n1", session) {
		ids = append(ids, c.GetId())
	}
	return ids
}

func TestHeldUntilTheWindowOpens(t *testing.T) {
	r := newHoldRig(t)
	opens := time.Date(2026, 12, 5, 2, 0, 0, 0, time.UTC)
	held, hold := r.submit(t, fleetv1.CommandKind_COMMAND_KIND_RESTART, HeldByWindow)
	if held.GetState() != fleetv1.CommandState_COMMAND_STATE_HELD || !held.GetHeldUntil().AsTime().Equal(opens) || held.GetHeldWindow() != "w1" ||
		held.GetDetail() != "held for maintenance window w1 of pool P until 2026-12-05 02:00:00 UTC" || hold.Window != "w1" {
		t.Fatalf("restart at 10:00 outside the 02:00 window: %v (hold %+v)", held, hold)
	}
	if got := held.GetCommand().GetDeadline().AsTime(); !got.Equal(opens.Add(DefaultTimeout)) {
		t.Fatalf("held deadline %s, want the opening + the timeout", got)
	}
	now, nowHold := r.submit(t, fleetv1.CommandKind_COMMAND_KIND_RESTART, OverrideWindow)
	if now.GetState() != fleetv1.CommandState_COMMAND_STATE_PENDING || !now.GetWindowOverridden() || !nowHold.Held() ||
		!strings.Contains(now.GetDetail(), "overriding maintenance window w1 of pool P") {
		t.Fatalf("overridden restart: %v", now)
	}
	backup, _ := r.submit(t, fleetv1.CommandKind_COMMAND_KIND_BACKUP, HeldByWindow)
	ungated, _ := r.submit(t, fleetv1.CommandKind_COMMAND_KIND_RESTART, Ungated)
	if backup.GetState() != fleetv1.CommandState_COMMAND_STATE_PENDING || ungated.GetState() != fleetv1.CommandState_COMMAND_STATE_PENDING || ungated.GetWindowOverridden() {
		t.Fatalf("a backup and an ungated restart are not held: %v, %v", backup.GetState(), ungated)
	}
	want := []string{now.GetCommand().GetId(), backup.GetCommand().GetId(), ungated.GetCommand().GetId()}
	if got := unsent(r.q, 1); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("unsent %v, want %v: the held restart must not be delivered", got, want)
	}

	// A held command survives a control-plane restart, and cancel works on it.
	cleanup, _, err := r.q.Submit(context.Background(), "n1", fleetv1.CommandKind_COMMAND_KIND_CLEANUP, nil, DefaultTimeout, "test", "", HeldByWindow)
	if err != nil || cleanup.GetState() != fleetv1.CommandState_COMMAND_STATE_HELD {
		t.Fatalf("cleanup: %v %v", cleanup, err)
	}
	if c, err := r.q.Cancel(cleanup.GetCommand().GetId(), "not this week"); err != nil || c.GetState() != fleetv1.CommandState_COMMAND_STATE_CANCELLED {
		t.Fatalf("cancel a held command: %v %v", c, err)
	}
	recs, err := r.st.LoadCommands()
	if err != nil {
		t.Fatal(err)
	}
	r.q = r.queue()
	r.q.Load(recs)
	if got, _ := r.q.Get(held.GetCommand().GetId()); got.GetState() != fleetv1.CommandState_COMMAND_STATE_HELD || !got.GetHeldUntil().AsTime().Equal(opens) {
		t.Fatalf("after a reload the held command is %v", got)
	}

	// Not before the opening, neither by Release nor by Expire.
	r.set(opens.Add(-time.Second))
	r.q.Release()
	r.q.Expire()
	if got, _ := r.q.Get(held.GetCommand().GetId()); got.GetState() != fleetv1.CommandState_COMMAND_STATE_HELD {
		t.Fatalf("a second before the opening: %v", got.GetState())
	}
	r.set(opens)
	r.q.Release()
	got, _ := r.q.Get(held.GetCommand().GetId())
	if got.GetState() != fleetv1.CommandState_COMMAND_STATE_PENDING || got.GetDetail() != "released: maintenance window w1 opened" {
		t.Fatalf("at the opening: %v", got)
	}
	if ids := unsent(r.q, 2); len(ids) == 0 || ids[0] != held.GetCommand().GetId() {
		t.Fatalf("unsent after the opening %v, want the released restart first (lowest seq)", ids)
	}
	if c, _ := r.q.Get(cleanup.GetCommand().GetId()); c.GetState() != fleetv1.CommandState_COMMAND_STATE_CANCELLED {
		t.Fatalf("the cancelled held command is %v", c.GetState())
	}
}

func TestHeldReleasedWhenTheWindowGoes(t *testing.T) {
	r := newHoldRig(t)
	held, _ := r.submit(t, fleetv1.CommandKind_COMMAND_KIND_RESTART, HeldByWindow)
	id := held.GetCommand().GetId()
	// The window moves to 04:00: the command waits for the new opening, its deadline with it.
	r.mu.Lock()
	r.windows[0].Spec.Schedule = shifted{2 * time.Hour}
	r.mu.Unlock()
	r.q.Release()
	got, _ := r.q.Get(id)
	four := time.Date(2026, 12, 5, 4, 0, 0, 0, time.UTC)
	if got.GetState() != fleetv1.CommandState_COMMAND_STATE_HELD || !got.GetHeldUntil().AsTime().Equal(four) ||
		!got.GetCommand().GetDeadline().AsTime().Equal(four.Add(DefaultTimeout)) || !strings.Contains(got.GetDetail(), "until 2026-12-05 04:00:00 UTC") {
		t.Fatalf("after the window moved: %v", got)
	}
	// The window is cancelled: nothing holds the command any more.
	r.mu.Lock()
	r.windows = nil
	r.mu.Unlock()
	r.q.Release()
	got, _ = r.q.Get(id)
	if got.GetState() != fleetv1.CommandState_COMMAND_STATE_PENDING || !strings.Contains(got.GetDetail(), "no maintenance window holds it any more") {
		t.Fatalf("after the window went: %v", got)
	}
}

// shifted is nightly moved by d.
type shifted struct{ d time.Duration }

func (s shifted) Next(t time.Time) time.Time { return nightly{}.Next(t.Add(-s.d)).Add(s.d) }
