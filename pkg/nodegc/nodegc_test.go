package nodegc

import (
	"strings"
	"testing"
	"time"
)

func TestCheck(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	p := Policy{Down: 72 * time.Hour, Unready: 24 * time.Hour}
	tests := []struct {
		name   string
		p      Policy
		n      Node
		want   Reason // "" means kept
		detail string
	}{
		{"junk never ready, gone 25h", p,
			Node{ID: "j", FirstSeen: ago(25 * time.Hour), LastSeen: ago(25 * time.Hour), StateSince: ago(25 * time.Hour)},
			ReasonNeverReady, "never seen ready and not connected for 25h0m0s (--node-gc-unready 24h0m0s)"},
		{"junk never ready, down since 24h1s", p,
			Node{ID: "j", Down: true, FirstSeen: ago(30 * time.Hour), LastSeen: ago(30 * time.Hour), StateSince: ago(24*time.Hour + time.Second)},
			ReasonNeverReady, "not connected for 24h0m1s"},
		{"junk never ready, gone exactly 24h", p,
			Node{ID: "j", FirstSeen: ago(24 * time.Hour)}, "", ""},
		{"never ready but connected for days", p,
			Node{ID: "c", Connected: true, FirstSeen: ago(100 * time.Hour), LastSeen: ago(100 * time.Hour)}, "", ""},
		{"down and connected flag (stalled session) is kept", p,
			Node{ID: "c", Connected: true, Down: true, StateSince: ago(100 * time.Hour)}, "", ""},
		{"ready once, disconnected 30h", p,
			Node{ID: "r", EverReady: true, FirstSeen: ago(40 * time.Hour), StateSince: ago(30 * time.Hour)}, "", ""},
		{"ready once, disconnected (not down) 100h", p,
			Node{ID: "r", EverReady: true, StateSince: ago(100 * time.Hour)}, "", ""},
		{"ready once, down 71h", p,
			Node{ID: "r", EverReady: true, Down: true, LastSeen: ago(71*time.Hour + time.Minute), StateSince: ago(71 * time.Hour)}, "", ""},
		{"ready once, down 72h1s", p,
			Node{ID: "r", EverReady: true, Down: true, LastSeen: ago(73 * time.Hour), StateSince: ago(72*time.Hour + time.Second)},
			ReasonDown, "down for 72h0m1s (--node-gc 72h0m0s)"},
		{"down rule off", Policy{Unready: 24 * time.Hour},
			Node{ID: "r", EverReady: true, Down: true, StateSince: ago(1000 * time.Hour)}, "", ""},
		{"unready rule off, junk down past --node-gc", Policy{Down: 72 * time.Hour},
			Node{ID: "j", Down: true, StateSince: ago(73 * time.Hour)}, ReasonDown, "down for 73h"},
		{"unready rule off, junk disconnected", Policy{Down: 72 * time.Hour},
			Node{ID: "j", StateSince: ago(1000 * time.Hour)}, "", ""},
		{"both off", Policy{}, Node{ID: "j", Down: true, StateSince: ago(1000 * time.Hour)}, "", ""},
		{"unknown times are kept", p, Node{ID: "z", Down: true}, "", ""},
		{"recent last seen restarts the window", p,
			Node{ID: "j", FirstSeen: ago(100 * time.Hour), LastSeen: ago(time.Hour), StateSince: ago(100 * time.Hour)}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, ok := tt.p.Check(tt.n, now)
			if ok != (tt.want != "") || r.Reason != tt.want {
				t.Fatalf("Check = %+v, %v; want reason %q", r, ok, tt.want)
			}
			if ok && (r.ID != tt.n.ID || !strings.Contains(r.Detail, tt.detail)) {
				t.Fatalf("removal %+v: want id %q and detail containing %q", r, tt.n.ID, tt.detail)
			}
		})
	}
}

func TestDecideKeepsOrderAndSkipsKept(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	old := now.Add(-100 * time.Hour)
	nodes := []Node{
		{ID: "b", Down: true, EverReady: true, StateSince: old},
		{ID: "live", Connected: true, StateSince: old},
		{ID: "a", StateSince: old},
		{ID: "fresh", StateSince: now.Add(-time.Minute)},
	}
	got := Policy{Down: 72 * time.Hour, Unready: 24 * time.Hour}.Decide(nodes, now)
	if len(got) != 2 || got[0].ID != "b" || got[0].Reason != ReasonDown || got[1].ID != "a" || got[1].Reason != ReasonNeverReady {
		t.Fatalf("Decide = %+v, want b (down) then a (never ready)", got)
	}
}

func TestValidate(t *testing.T) {
	if errs := (Policy{Down: 72 * time.Hour, Unready: 24 * time.Hour}).Validate(); errs != nil {
		t.Fatalf("defaults: %v", errs)
	}
	if errs := (Policy{}).Validate(); errs != nil {
		t.Fatalf("both off: %v", errs)
	}
	errs := Policy{Down: -time.Second, Unready: -time.Second}.Validate()
	if len(errs) != 2 || !strings.Contains(errs[0].Error(), "--node-gc -1s") || !strings.Contains(errs[1].Error(), "--node-gc-unready -1s") {
		t.Fatalf("negative windows: %v, want both flags named", errs)
	}
}
