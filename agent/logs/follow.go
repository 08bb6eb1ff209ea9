package logs

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"syscall"
	"time"

	"github.com/dspyfleet/dspyfleet/pkg/logtemplate"
)

// Follower reads the lines appended to one file. It follows the path, not the open file: when
// the path names a new inode (the file was rotated) it reads what is left of the old file, then
// the new one from its start; when the file shrinks (truncated in place) it starts over at 0.
type Follower struct {
	path string
	poll time.Duration
	log  *slog.Logger
	// line receives every complete line; cut is called for each line cut at MaxLineBytes.
	line func(string)
	cut  func()

	f        *os.File
	ino      uint64
	off      int64
	partial  []byte
	skipping bool // the rest of a cut line is being skipped
	buf      []byte
	warned   bool
}

// NewFollower returns a follower of path that starts at the file's current end.
func NewFollower(path string, poll time.Duration, log *slog.Logger, line func(string), cut func()) *Follower {
	return &Follower{path: path, poll: poll, log: log, line: line, cut: cut, buf: make([]byte, 64<<10)}
}

// Run polls the file every poll interval until ctx ends.
func (f *Follower) Run(ctx context.Context) error {
	defer f.close()
	f.step(true)
	t := time.NewTicker(f.poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			f.step(false)
		}
	}
}

// step opens, reopens or rewinds the file as its path and size say, then reads what was
// appended. first is the step at start, which skips the file's existing content.
func (f *Follower) step(first bool) {
	if f.f == nil {
		f.open(first)
		if f.f == nil {
			return
		}
	}
	st, err := os.Stat(f.path)
	switch {
	case err != nil:
		// Rotated away and not yet recreated: finish the open file, keep looking for the path.
		f.read()
		return
	case inode(st) != f.ino:
		f.read()
		f.flushPartial()
		f.close()
		f.open(false)
		if f.f == nil {
			return
		}
	default:
		if st.Size() < f.off {
			if _, err := f.f.Seek(0, io.SeekStart); err == nil {
				f.off = 0
				f.partial, f.skipping = f.partial[:0], false
			}
		}
	}
	f.read()
}

// open opens the path, at its end when atEnd.
func (f *Follower) open(atEnd bool) {
	file, err := os.Open(f.path)
	if err != nil {
		if !f.warned && !errors.Is(err, fs.ErrNotExist) {
			f.log.Warn("log file not readable; retrying", "path", f.path, "err", err)
			f.warned = true
		}
		return
	}
	st, err := file.Stat()
	if err != nil {
		_ = file.Close()
		return
	}
	f.warned = false
	f.f, f.ino, f.off, f.skipping = file, inode(st), 0, false
	if atEnd {
		f.off, _ = file.Seek(0, io.SeekEnd)
	}
}

// read reads the open file to its end, handing out complete lines.
func (f *Follower) read() {
	for {
		n, err := f.f.Read(f.buf)
		f.off += int64(n)
		f.split(f.buf[:n])
		if err != nil || n == 0 {
			return
		}
	}
}

// split hands out the complete lines of partial+b and keeps the rest. A line longer than
// MaxLineBytes is handed out cut to that length and counted; its rest is skipped.
func (f *Follower) split(b []byte) {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		chunk := b
		if i >= 0 {
			chunk = b[:i]
		}
		if !f.skipping {
			if room := logtemplate.MaxLineBytes - len(f.partial); len(chunk) > room {
				f.partial = append(f.partial, chunk[:room]...)
				f.flushPartial()
				f.cut()
				f.skipping = true
			} else {
				f.partial = append(f.partial, chunk...)
			}
		}
		if i < 0 {
			return
		}
		if !f.skipping {
			f.flushPartial()
		}
		f.skipping = false
		b = b[i+1:]
	}
}

// flushPartial hands out the kept partial line, if any, without its carriage return.
func (f *Follower) flushPartial() {
	if len(f.partial) > 0 {
		f.line(string(bytes.TrimSuffix(f.partial, []byte{'\r'})))
		f.partial = f.partial[:0]
	}
}

func (f *Follower) close() {
	if f.f != nil {
		_ = f.f.Close()
		f.f = nil
	}
}

// inode returns the file's inode number, 0 where the platform has none.
func inode(st os.FileInfo) uint64 {
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		return s.Ino
	}
	return 0
}
