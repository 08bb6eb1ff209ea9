package logs

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Journal restart backoff and cursor saving.
const (
	journalMinBackoff = time.Second
	journalMaxBackoff = 30 * time.Second
	// journalStable is how long a journalctl must run for the backoff to start over.
	journalStable = 10 * time.Second
	// journalSaveEvery is how often the cursor reached is written to the cursor file; a crash
	// recounts at most this much, a clean stop nothing.
	journalSaveEvery = time.Second
	// maxEntryBytes bounds one JSON entry read; longer entries are skipped.
	maxEntryBytes = 1 << 20
)

// JournalOptions say which journal entries a JournalFollower reads.
type JournalOptions struct {
	// Units are systemd units followed with --unit (their own entries and systemd's about them).
	Units []string
	// Matches are journalctl match expressions (FIELD=VALUE, "+" between alternatives), passed
	// after the options.
	Matches []string
	// Directory is journalctl's --directory; "" reads the system journal.
	Directory string
	// CursorFile keeps the cursor of the last entry handed out, so that a restart resumes after
	// it; "" keeps none and every start begins at the journal's end.
	CursorFile string
	// Command is the journalctl binary; "" means "journalctl" from $PATH.
	Command string
}

// JournalFollower runs journalctl --follow --output=json as a child process in its own
// process group and hands out each entry. When the child exits it is started again with
// backoff, resuming after the last cursor; when Run's context ends it is killed.
type JournalFollower struct {
	opts  JournalOptions
	log   *slog.Logger
	entry func(Entry)

	mu     sync.Mutex
	cursor string
	saved  string
}

// NewJournalFollower returns a follower that hands every entry to entry, from one goroutine.
func NewJournalFollower(opts JournalOptions, log *slog.Logger, entry func(Entry)) *JournalFollower {
	if opts.Command == "" {
		opts.Command = "journalctl"
	}
	return &JournalFollower{opts: opts, log: log, entry: entry}
}

// Run follows the journal until ctx ends, then saves the cursor.
func (j *JournalFollower) Run(ctx context.Context) error {
	j.cursor = j.loadCursor()
	j.saved = j.cursor
	saveCtx, stopSaving := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { j.saveLoop(saveCtx) })
	defer func() {
		stopSaving()
		wg.Wait()
		j.saveCursor()
	}()
	backoff := journalMinBackoff
	for {
		started := time.Now()
		err := j.runOnce(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if time.Since(started) >= journalStable {
			backoff = journalMinBackoff
		}
		j.log.Warn("journalctl exited; restarting", "err", err, "backoff", backoff)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		backoff = min(2*backoff, journalMaxBackoff)
	}
}

// Args are journalctl's arguments for a start after cursor ("" starts at the journal's end).
func (o JournalOptions) Args(cursor string) []string {
	args := []string{"--follow", "--output=json", "--no-pager", "--quiet"}
	if cursor != "" {
		args = append(args, "--after-cursor="+cursor)
	} else {
		args = append(args, "--lines=0")
	}
	if o.Directory != "" {
		args = append(args, "--directory="+o.Directory)
	}
	for _, u := range o.Units {
		args = append(args, "--unit="+u)
	}
	return append(args, o.Matches...)
}

// runOnce runs one journalctl until it exits or ctx ends.
func (j *JournalFollower) runOnce(ctx context.Context) error {
	j.mu.Lock()
	cursor := j.cursor
	j.mu.Unlock()
	cmd := exec.CommandContext(ctx, j.opts.Command, j.opts.Args(cursor)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	var stderr tailBuffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	j.read(out)
	err = cmd.Wait()
	if msg := strings.TrimSpace(stderr.String()); msg != "" {
		return errors.Join(err, errors.New(msg))
	}
	return err
}

// read hands out every entry of r until it ends.
func (j *JournalFollower) read(r io.Reader) {
	br := bufio.NewReaderSize(r, 64<<10)
	var long []byte
	skipping := false
	for {
		chunk, err := br.ReadSlice('\n')
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			if !skipping && len(long)+len(chunk) <= maxEntryBytes {
				long = append(long, chunk...)
			} else {
				long, skipping = long[:0], true
			}
			continue
		case err != nil:
			return
		}
		line := chunk
		if len(long) > 0 {
			line = append(long, chunk...)
		}
		if !skipping {
			j.handle(bytes.TrimSpace(line))
		}
		long, skipping = long[:0], false
	}
}

// handle parses one entry and hands it out.
func (j *JournalFollower) handle(line []byte) {
	if len(line) == 0 {
		return
	}
	e, err := ParseEntry(line)
	if err != nil {
		j.log.Debug("journal entry not readable", "err", err)
		return
	}
	j.entry(e)
	j.mu.Lock()
	j.cursor = e.Cursor
	j.mu.Unlock()
}

func (j *JournalFollower) saveLoop(ctx context.Context) {
	t := time.NewTicker(journalSaveEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			j.saveCursor()
		}
	}
}

// loadCursor reads the cursor file; a missing or unreadable one starts at the journal's end.
func (j *JournalFollower) loadCursor() string {
	if j.opts.CursorFile == "" {
		return ""
	}
	b, err := os.ReadFile(j.opts.CursorFile)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			j.log.Warn("journal cursor not readable; starting at the journal's end", "path", j.opts.CursorFile, "err", err)
		}
		return ""
	}
	return strings.TrimSpace(string(b))
}

// saveCursor writes the cursor reached, when it moved, through a temporary file and a rename.
func (j *JournalFollower) saveCursor() {
	j.mu.Lock()
	cursor := j.cursor
	j.mu.Unlock()
	if j.opts.CursorFile == "" || cursor == j.saved {
		return
	}
	tmp := j.opts.CursorFile + ".tmp"
	err := os.MkdirAll(filepath.Dir(j.opts.CursorFile), 0o700)
	if err == nil {
		err = os.WriteFile(tmp, []byte(cursor+"\n"), 0o600)
	}
	if err == nil {
		err = os.Rename(tmp, j.opts.CursorFile)
	}
	if err != nil {
		j.log.Warn("journal cursor not saved", "path", j.opts.CursorFile, "err", err)
		return
	}
	j.saved = cursor
}

// tailBuffer keeps the last 4 KiB written to it.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - 4<<10; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
