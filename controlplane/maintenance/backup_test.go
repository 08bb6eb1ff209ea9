package maintenance

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dspyfleet/dspyfleet/controlplane/store"
	"github.com/dspyfleet/dspyfleet/pkg/maintenance"
)

// TestScheduledBackupsAndRetention runs the backup loop on a short interval: backups appear on
// their own, each with its metadata, and the retention keeps the newest two.
func TestScheduledBackupsAndRetention(t *testing.T) {
	st, err := store.Open(t.TempDir(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	dir := filepath.Join(t.TempDir(), "backups")
	b := &Backups{store: st, dir: dir, interval: 20 * time.Millisecond, retention: maintenance.Retention{Keep: 2},
		now: time.Now, Log: slog.New(slog.DiscardHandler)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	seen := map[string]bool{}
	for {
		list, err := b.List()
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range list {
			seen[l.GetName()] = true
		}
		if len(seen) >= 3 && len(list) == 2 && strings.Contains(list[0].GetReason(), "scheduled") {
			entries, _ := os.ReadDir(dir)
			if len(entries) == 4 { // two backups and their metadata; the older ones were pruned
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 10s the backup dir holds %v", list)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	list, err := b.List()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Verify(list[0].GetName()); err != nil {
		t.Fatalf("verify a scheduled backup: %v", err)
	}
}
