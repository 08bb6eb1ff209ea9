package logs

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dspyfleet/dspyfleet/internal/fleettest"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// journalRun is an analyzer following a journal, with its reports summed.
type journalRun struct {
	a                     *Analyzer
	cancel                context.CancelFunc
	done                  chan error
	lines, errors, warned uint64
}

func startJournalAnalyzer(t *testing.T, j *fleettest.Journal, cursor string) *journalRun {
	t.Helper()
	a, err := New(Config{Journal: JournalConfig{Units: []string{"dspy.service"}, Directory: j.Dir}, CursorFile: cursor}, fleettest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &journalRun{a: a, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- a.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// flush adds the analyzer's window to the sums.
func (r *journalRun) flush() *fleetv1.LogMetrics {
	m := r.a.Flush()
	r.lines += m.GetLines()
	r.errors += m.GetErrors()
	r.warned += m.GetWarnings()
	return m
}

func (r *journalRun) stop(t *testing.T) {
	t.Helper()
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.done:
		if err != nil {
			t.Error(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("analyzer did not stop")
	}
}

func unitEntry(msg string, prio int) map[string]string {
	return map[string]string{"_SYSTEMD_UNIT": "dspy.service", "MESSAGE": msg, "PRIORITY": strconv.Itoa(prio)}
}

// waitFollowing appends a probe entry until the analyzer counts one, then forgets the counts.
func waitFollowing(t *testing.T, j *fleettest.Journal, r *journalRun) {
	t.Helper()
	fleettest.Eventually(t, 20*time.Second, "journalctl following", func() bool {
		j.Append(t, unitEntry("probe entry", 6))
		return r.flush().GetLines() > 0
	})
	// Probes appended after the first counted one may still be on their way.
	fleettest.Eventually(t, 10*time.Second, "the probes drained", func() bool {
		j.Append(t, unitEntry("drain marker", 6))
		return slices.ContainsFunc(r.a.Flush().GetTemplates(), func(c *fleetv1.LogTemplateCount) bool {
			return c.GetTemplate() == "drain marker"
		})
	})
	r.lines, r.errors, r.warned = 0, 0, 0
}

func TestJournalFollowedAndResumedFromCursor(t *testing.T) {
	j := fleettest.NewJournal(t)
	j.Append(t, unitEntry("history before the agent started", 3),
		map[string]string{"_SYSTEMD_UNIT": "other.service", "MESSAGE": "not ours", "PRIORITY": "3"})
	cursor := filepath.Join(t.TempDir(), "state", "journal.cursor")

	r := startJournalAnalyzer(t, j, cursor)
	waitFollowing(t, j, r)
	j.Append(t, unitEntry("model call 17 failed", 3), unitEntry("model call 18 failed", 2),
		unitEntry("slow call 4", 4), unitEntry("served 9", 6),
		map[string]string{"_SYSTEMD_UNIT": "other.service", "MESSAGE": "not ours", "PRIORITY": "3"})
	fleettest.Eventually(t, 10*time.Second, "4 entries counted", func() bool {
		r.flush()
		return r.lines >= 4
	})
	if r.lines != 4 || r.errors != 2 || r.warned != 1 {
		t.Fatalf("lines %d errors %d warnings %d, want 4, 2, 1", r.lines, r.errors, r.warned)
	}
	r.stop(t)
	if b, err := os.ReadFile(cursor); err != nil || len(b) < 10 {
		t.Fatalf("cursor file %q: %v", b, err)
	}

	// Entries written while the agent is down are counted once after the restart, and none
	// before the cursor again.
	j.Append(t, unitEntry("while down 1", 3), unitEntry("while down 2", 6))
	r2 := startJournalAnalyzer(t, j, cursor)
	fleettest.Eventually(t, 20*time.Second, "the entries written while down counted", func() bool {
		r2.flush()
		return r2.lines >= 2
	})
	j.Append(t, unitEntry("last marker", 6))
	fleettest.Eventually(t, 10*time.Second, "the marker counted", func() bool {
		r2.flush()
		return r2.lines >= 3
	})
	if r2.lines != 3 || r2.errors != 1 {
		t.Fatalf("after restart lines %d errors %d, want 3 and 1 (no entry counted twice)", r2.lines, r2.errors)
	}
}

func TestJournalChildRestartedAfterExit(t *testing.T) {
	// A journalctl that exits at once is started again, with backoff.
	var entries atomic.Int32
	dir := t.TempDir()
	script := filepath.Join(dir, "journalctl")
	count := filepath.Join(dir, "starts")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho x >> "+count+"\necho 'not json'\nexit 1\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	jf := NewJournalFollower(JournalOptions{Units: []string{"dspy.service"}, Command: script}, fleettest.Logger(t), func(Entry) { entries.Add(1) })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- jf.Run(ctx) }()
	fleettest.Eventually(t, 10*time.Second, "journalctl started twice", func() bool {
		b, _ := os.ReadFile(count)
		return len(b) >= 4
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if entries.Load() != 0 {
		t.Fatalf("%d entries handed out from non-JSON output", entries.Load())
	}
}

func TestJournalArgs(t *testing.T) {
	o := JournalOptions{Units: []string{"dspy.service"}, Directory: "/j", Matches: []string{"SYSLOG_IDENTIFIER=sudo"}}
	want := []string{"--follow", "--output=json", "--no-pager", "--quiet", "--lines=0", "--directory=/j", "--unit=dspy.service", "SYSLOG_IDENTIFIER=sudo"}
	if got := o.Args(""); !slices.Equal(got, want) {
		t.Fatalf("args %q, want %q", got, want)
	}
	want[4] = "--after-cursor=s=1"
	if got := o.Args("s=1"); !slices.Equal(got, want) {
		t.Fatalf("args %q, want %q", got, want)
	}
}
