package main

import (
	"strings"
	"testing"
	"time"

	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

func TestWriteCommandTable(t *testing.T) {
	tests := []struct {
		name string
		recs []*fleetv1.CommandRecord
		want string
	}{
		{name: "empty", want: "ID   NODE   KIND   STATE   AGE   DETAIL\n"},
		{
			name: "pending, failed with a long detail, succeeded",
			recs: fixtureCommands(),
			want: `ID                                 NODE    KIND      STATE       AGE    DETAIL
0189c3a4b5d6e7f80000000000000003   web-1   cleanup   pending     1m0s   queued
0189c3a4b5d6e7f80000000000000002   gpu-7   restart   failed      1h0m   no restart action is configured on this agent; add it under…
0189c3a4b5d6e7f80000000000000001   web-1   deploy    succeeded   2h0m   now running 1.2.3
`,
		},
		{
			name: "unset fields and a multi-line detail",
			recs: []*fleetv1.CommandRecord{{NodeId: "n", Detail: "line one\n  line two"}},
			want: `ID   NODE   KIND          STATE         AGE   DETAIL
     n      unspecified   unspecified   -     line one line two
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			if err := writeCommandTable(&b, tt.recs, fixtureNow); err != nil {
				t.Fatal(err)
			}
			if b.String() != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", b.String(), tt.want)
			}
		})
	}
}

func TestWriteCommand(t *testing.T) {
	recs := fixtureCommands()
	tests := []struct {
		name string
		rec  *fleetv1.CommandRecord
		want string
	}{
		{
			name: "succeeded with fields and history",
			rec:  recs[2],
			want: `ID:           0189c3a4b5d6e7f80000000000000001
Node:         web-1
Kind:         deploy
Params:       version=1.2.3
State:        succeeded
Detail:       now running 1.2.3
Fields:       exit_status=0
              version=1.2.3
Requested by: api@10.0.0.9:4242
Reason:       release
              1.2.3
Seq:          1
Deadline:     2026-03-01T08:10:00Z (1h50m ago)
Created:      2026-03-01T08:00:00Z (2h0m ago)
Updated:      2026-03-01T08:00:09Z (1h59m ago)
History:
  2026-03-01T08:00:00Z  pending    queued
  2026-03-01T08:00:01Z  sent       sent to the agent
  2026-03-01T08:00:02Z  accepted   accepted
  2026-03-01T08:00:02Z  running    running
  2026-03-01T08:00:09Z  succeeded  now running 1.2.3
`,
		},
		{
			name: "pending, deadline ahead",
			rec:  recs[0],
			want: `ID:           0189c3a4b5d6e7f80000000000000003
Node:         web-1
Kind:         cleanup
Params:       dry_run=true
State:        pending
Detail:       queued
Fields:       -
Requested by: api@10.0.0.9:4242
Reason:       -
Seq:          3
Deadline:     2026-03-01T10:09:00Z (in 9m0s)
Created:      2026-03-01T09:59:00Z (1m0s ago)
Updated:      2026-03-01T09:59:00Z (1m0s ago)
History:
  2026-03-01T09:59:00Z  pending  queued
`,
		},
		{
			name: "empty",
			rec:  &fleetv1.CommandRecord{},
			want: `ID:           -
Node:         -
Kind:         unspecified
Params:       -
State:        unspecified
Detail:       -
Fields:       -
Requested by: -
Reason:       -
Seq:          0
Deadline:     -
Created:      -
Updated:      -
History:      -
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			if err := writeCommand(&b, tt.rec, fixtureNow); err != nil {
				t.Fatal(err)
			}
			if b.String() != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", b.String(), tt.want)
			}
		})
	}
}

// TestWriteCommandTimeZone checks that times are shown in the location of now.
func TestWriteCommandTimeZone(t *testing.T) {
	var b strings.Builder
	if err := writeCommand(&b, fixtureCommands()[0], fixtureNow.In(time.FixedZone("CET", 3600))); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Created:      2026-03-01T10:59:00+01:00 (1m0s ago)\n", "  2026-03-01T10:59:00+01:00  pending  queued\n"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("got:\n%s\nwant a line %q", b.String(), want)
		}
	}
}

func TestWriteCommandEvent(t *testing.T) {
	recs := fixtureCommands()
	tests := []struct {
		name string
		rec  *fleetv1.CommandRecord
		want string
	}{
		{
			name: "pending",
			rec:  recs[0],
			want: "2026-03-01T09:59:00Z  0189c3a4b5d6e7f80000000000000003  web-1  cleanup  pending    queued\n",
		},
		{
			name: "failed, detail cut",
			rec:  recs[1],
			want: "2026-03-01T09:00:00Z  0189c3a4b5d6e7f80000000000000002  gpu-7  restart  failed     no restart action is configured on this agent; add it under…\n",
		},
		{
			name: "no time or detail",
			rec:  &fleetv1.CommandRecord{Command: &fleetv1.Command{Id: "c1", Kind: fleetv1.CommandKind_COMMAND_KIND_UNDRAIN}, NodeId: "n", State: fleetv1.CommandState_COMMAND_STATE_SUCCEEDED},
			want: "2026-03-01T10:00:00Z  c1  n  undrain  succeeded  -\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			if err := writeCommandEvent(&b, &fleetv1.WatchCommandsResponse{Command: tt.rec}, fixtureNow); err != nil {
				t.Fatal(err)
			}
			if b.String() != tt.want {
				t.Errorf("got  %q\nwant %q", b.String(), tt.want)
			}
		})
	}
}

func TestWriteSummaryAndOutcome(t *testing.T) {
	recs := fixtureCommands()
	tests := []struct {
		name                 string
		rec                  *fleetv1.CommandRecord
		wantSummary, wantOut string
	}{
		{
			name:        "succeeded with fields",
			rec:         recs[2],
			wantSummary: "Command 0189c3a4b5d6e7f80000000000000001: deploy on web-1, succeeded (now running 1.2.3)\n",
			wantOut:     "Succeeded: now running 1.2.3\n  exit_status=0\n  version=1.2.3\n",
		},
		{
			name:        "failed",
			rec:         recs[1],
			wantSummary: "Command 0189c3a4b5d6e7f80000000000000002: restart on gpu-7, failed (no restart action is configured on this agent; add it under actions in the agent config)\n",
			wantOut:     "Failed: no restart action is configured on this agent; add it under actions in the agent config\n",
		},
		{
			name:        "no detail",
			rec:         &fleetv1.CommandRecord{Command: &fleetv1.Command{Id: "c1", Kind: fleetv1.CommandKind_COMMAND_KIND_BACKUP}, NodeId: "n", State: fleetv1.CommandState_COMMAND_STATE_EXPIRED},
			wantSummary: "Command c1: backup on n, expired (-)\n",
			wantOut:     "Expired\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			if err := writeSummary(&b, tt.rec); err != nil {
				t.Fatal(err)
			}
			if b.String() != tt.wantSummary {
				t.Errorf("summary %q, want %q", b.String(), tt.wantSummary)
			}
			b.Reset()
			if err := writeOutcome(&b, tt.rec); err != nil {
				t.Fatal(err)
			}
			if b.String() != tt.wantOut {
				t.Errorf("outcome %q, want %q", b.String(), tt.wantOut)
			}
		})
	}
}

// TestWriteTransitions checks that a wait prints each transition once, however the records it
// learns of overlap.
func TestWriteTransitions(t *testing.T) {
	rec := fixtureCommands()[2]
	partial := &fleetv1.CommandRecord{History: rec.GetHistory()[:3]}
	var b strings.Builder
	next := 1
	for _, r := range []*fleetv1.CommandRecord{partial, partial, rec, partial} {
		var err error
		if next, err = writeTransitions(&b, r, next, fixtureNow); err != nil {
			t.Fatal(err)
		}
	}
	want := `2026-03-01T08:00:01Z  sent       sent to the agent
2026-03-01T08:00:02Z  accepted   accepted
2026-03-01T08:00:02Z  running    running
2026-03-01T08:00:09Z  succeeded  now running 1.2.3
`
	if b.String() != want || next != 5 {
		t.Errorf("next = %d, got:\n%s\nwant:\n%s", next, b.String(), want)
	}
}

func TestTruncate(t *testing.T) {
	tests := []struct {
		s    string
		n    int
		want string
	}{
		{"", 5, ""},
		{"abcde", 5, "abcde"},
		{"abcdef", 5, "abcd…"},
		{"äöüßéè", 5, "äöüß…"},
	}
	for _, tt := range tests {
		if got := truncate(tt.s, tt.n); got != tt.want {
			t.Errorf("truncate(%q, %d) = %q, want %q", tt.s, tt.n, got, tt.want)
		}
	}
	if got := oneLine(" a\n\tb  c \n"); got != "a b c" {
		t.Errorf("oneLine = %q", got)
	}
}
