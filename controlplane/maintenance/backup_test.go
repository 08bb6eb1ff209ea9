package maintenance

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dspyfleet/dspyfleet/controlplane/store"
	"github.com/dspyfleet/dspyfleet/internal/logtest"
	"github.com/dspyfleet/dspyfleet/pkg/maintenance"
)

// TestScheduledBackupsAndRetention runs the backup loop on a short interval in a synctest bubble,
// where the ticker runs on virtual time: backups appear on their own, each with its metadata, and
// the retention keeps the newest two.
func TestScheduledBackupsAndRetention(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st, err := store.Open(t.TempDir(), time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		dir := filepath.Join(t.TempDir(), "backups")
		logged := make(chan slog.Record, 64)
		b := &Backups{store: st, dir: dir, interval: 20 * time.Millisecond, retention: maintenance.Retention{Keep: 2},
			now: time.Now, log: slog.New(logtest.Handler{C: logged})}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- b.Run(ctx) }()
		stop := sync.OnceValue(func() error { cancel(); return <-done })
		defer stop() // a failed test ends the loop too: the bubble must end with no goroutine left
		// Time moves only while every goroutine of the bubble waits, so no tick comes between
		// the third backup and the cancel: exactly three are written.
		var written []string
		for len(written) < 3 {
			select {
			case r := <-logged:
				if r.Message != "scheduled backup written" {
					t.Fatalf("after %d scheduled backups the loop logged %q %s", len(written), r.Message, logtest.Attr(r, "err"))
				}
				written = append(written, filepath.Base(logtest.Attr(r, "path")))
			case <-time.After(10 * time.Second):
				t.Fatalf("10s of ticks every 20ms wrote %d scheduled backups: %v", len(written), written)
			}
		}
		if err := stop(); err != nil {
			t.Fatalf("Run: %v", err)
		}
		if len(logged) != 0 {
			t.Fatalf("the loop logged %q after the third backup", (<-logged).Message)
		}
		if !(written[0] < written[1] && written[1] < written[2]) {
			t.Fatalf("the scheduled backups are not three, newer each time: %v", written)
		}
		list, err := b.List()
		if err != nil {
			t.Fatal(err)
		}
		var listed []string
		for _, l := range list {
			listed = append(listed, l.GetName())
			if l.GetReason() != "scheduled" {
				t.Errorf("backup %s has reason %q, want scheduled", l.GetName(), l.GetReason())
			}
		}
		if want := []string{written[2], written[1]}; !slices.Equal(listed, want) {
			t.Fatalf("the backup dir lists %v after backups %v; want the newest two, newest first: %v", listed, written, want)
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 4 { // two backups and their metadata; the oldest was pruned with its metadata
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			t.Fatalf("the backup dir holds %v, want two backups and their metadata", names)
		}
		if _, err := b.Verify(list[0].GetName()); err != nil {
			t.Fatalf("verify a scheduled backup: %v", err)
		}
	})
}
