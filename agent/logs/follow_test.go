package logs

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dspyfleet/dspyfleet/internal/fleettest"
	"github.com/dspyfleet/dspyfleet/pkg/logtemplate"
)

// recorder collects what a follower hands out.
type recorder struct {
	lines []string
	cuts  int
}

func newTestFollower(t *testing.T, path string) (*Follower, *recorder) {
	t.Helper()
	r := &recorder{}
	f := NewFollower(path, DefaultPoll, fleettest.Logger(t), func(l string) { r.lines = append(r.lines, l) }, func() { r.cuts++ })
	t.Cleanup(f.close)
	return f, r
}

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func (r *recorder) take(t *testing.T, want ...string) {
	t.Helper()
	if !slices.Equal(r.lines, want) {
		t.Fatalf("lines %q, want %q", r.lines, want)
	}
	r.lines = nil
}

func TestFollowerSkipsHistoryAndReadsAppends(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	appendFile(t, path, "old line 1\nold line 2\n")
	f, r := newTestFollower(t, path)
	f.step(true)
	r.take(t)
	appendFile(t, path, "new a\nnew b\r\npart")
	f.step(false)
	r.take(t, "new a", "new b")
	appendFile(t, path, "ial\n")
	f.step(false)
	r.take(t, "partial")
}

func TestFollowerRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	appendFile(t, path, "")
	f, r := newTestFollower(t, path)
	f.step(true)
	appendFile(t, path, "before 1\n")
	f.step(false)
	r.take(t, "before 1")

	// logrotate's create: rename, write a last line to the old inode, create a new file.
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	appendFile(t, path+".1", "late to old\ntail without newline")
	f.step(false) // the path is missing: the old file is finished, the partial line kept
	r.take(t, "late to old")
	appendFile(t, path, "after 1\nafter 2\n")
	f.step(false)
	r.take(t, "tail without newline", "after 1", "after 2")
}

func TestFollowerTruncation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	appendFile(t, path, "")
	f, r := newTestFollower(t, path)
	f.step(true)
	appendFile(t, path, "one long line before copytruncate\n")
	f.step(false)
	r.take(t, "one long line before copytruncate")
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	appendFile(t, path, "short\n")
	f.step(false)
	r.take(t, "short")
}

func TestFollowerFileAppearsLater(t *testing.T) {
	path := filepath.Join(t.TempDir(), "later.log")
	f, r := newTestFollower(t, path)
	f.step(true)
	appendFile(t, path, "first\n")
	f.step(false)
	r.take(t, "first")
}

func TestFollowerCutsLongLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	appendFile(t, path, "")
	f, r := newTestFollower(t, path)
	f.step(true)
	long := strings.Repeat("x", logtemplate.MaxLineBytes+10000)
	appendFile(t, path, long+"\nnext\n")
	f.step(false)
	r.take(t, long[:logtemplate.MaxLineBytes], "next")
	if r.cuts != 1 {
		t.Fatalf("%d cut lines counted, want 1", r.cuts)
	}
}
