// Package backup owns the agent's backup action: archiving the files and directories named in the
// agent's own configuration into a gzip-compressed tar file, verifying archives, and keeping only
// the newest few.
//
// An archive is <Dir>/<prefix>-<UTC time as 20060102T150405Z>.tar.gz. It holds each configured
// path (recursively for directories) under its path relative to "/", then a MANIFEST.json entry
// listing every entry with its size, sha256 and mode. Symlinks are stored as symlinks, never
// followed; sockets, FIFOs and devices are skipped. Beside it, <archive>.sha256 records the
// archive's own sha256 in sha256sum format, so `sha256sum -c` works from Dir. Archives are written
// to a temporary file in Dir, synced and renamed, so a failed backup leaves nothing behind. Only
// files whose names match the archive pattern for the prefix, and their sidecars, are ever removed
// from Dir.
//
// To restore, extract into a staging directory (or use --exclude MANIFEST.json with -C /):
// the manifest is an ordinary entry at the top of the archive.
package backup

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/dspyfleet/dspyfleet/internal/humanize"
)

const (
	defaultPrefix   = "backup"
	manifestName    = "MANIFEST.json"
	timeLayout      = "20060102T150405Z"
	archiveExt      = ".tar.gz"
	sidecarExt      = ".sha256"
	maxManifestSize = 256 << 20 // a MANIFEST.json larger than this is not read back
	maxSidecarSize  = 4 << 10
)

var (
	// ErrInvalidConfig marks a refused Config.
	ErrInvalidConfig = errors.New("invalid backup config")
	// ErrExists is returned by Create when an archive with the same name (same prefix and second)
	// already exists; it is never overwritten.
	ErrExists = errors.New("backup archive already exists")
	// ErrCorrupt is returned by Verify when an archive does not match its sidecar or manifest.
	ErrCorrupt = errors.New("backup archive is corrupt")
	// ErrPrune is returned by Create, with a valid Archive, when the new archive was written but
	// archives beyond Keep could not all be removed.
	ErrPrune = errors.New("removing old backup archives failed")
)

var prefixPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// Config is one configured backup.
type Config struct {
	// Paths are the absolute files or directories to archive. They must exist, must not be "/"
	// and must not contain one another.
	Paths []string
	// Dir is the absolute directory the archives are written to; it is created (0700) if missing.
	// It must not lie inside one of Paths.
	Dir string
	// Keep is how many of the newest archives with this prefix are kept, at least 1.
	Keep int
	// Prefix starts every archive name; empty means "backup". Letters, digits, '.', '_' and '-'.
	Prefix string
}

// Validate reports every invalid field, each naming it, joined with errors.Join. Each problem
// wraps ErrInvalidConfig, and the underlying cause where there is one (fs.ErrNotExist).
func (c Config) Validate() error {
	var errs []error
	bad := func(field string, err error) {
		errs = append(errs, fmt.Errorf("%w: %s: %w", ErrInvalidConfig, field, err))
	}
	if len(c.Paths) == 0 {
		bad("paths", errors.New("is empty; name at least one file or directory"))
	}
	for i, p := range c.Paths {
		field := fmt.Sprintf("paths[%d]", i)
		switch {
		case p == "":
			bad(field, errors.New("is empty"))
			continue
		case !filepath.IsAbs(p):
			bad(field, fmt.Errorf("%q is not an absolute path", p))
			continue
		case isFSRoot(p):
			bad(field, fmt.Errorf("%q is the file system root; name the directories to back up", p))
			continue
		}
		if _, err := os.Lstat(p); err != nil {
			bad(field, err)
		}
		for j, q := range c.Paths[:i] {
			if filepath.IsAbs(q) && (within(p, q) || within(q, p)) {
				bad(field, fmt.Errorf("%s overlaps paths[%d] %s; name each tree once", p, j, q))
			}
		}
	}
	switch {
	case c.Dir == "":
		bad("dir", errors.New("is empty"))
	case !filepath.IsAbs(c.Dir):
		bad("dir", fmt.Errorf("%q is not an absolute path", c.Dir))
	default:
		if fi, err := os.Stat(c.Dir); err == nil && !fi.IsDir() {
			bad("dir", fmt.Errorf("%s is not a directory", c.Dir))
		} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
			bad("dir", err)
		}
		for i, p := range c.Paths {
			if filepath.IsAbs(p) && within(c.Dir, p) {
				bad("dir", fmt.Errorf("%s is inside paths[%d] %s; archives would contain themselves", c.Dir, i, p))
			}
		}
	}
	if c.Keep < 1 {
		bad("keep", fmt.Errorf("%d must be at least 1", c.Keep))
	}
	if c.Prefix != "" && !prefixPattern.MatchString(c.Prefix) {
		bad("prefix", fmt.Errorf("%q must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit", c.Prefix))
	}
	return errors.Join(errs...)
}

// isFSRoot reports whether the absolute path p names the file system root.
func isFSRoot(p string) bool {
	p = filepath.Clean(p)
	return filepath.Dir(p) == p
}

// within reports whether the absolute path p is parent or lies under it, lexically.
func within(p, parent string) bool {
	rel, err := filepath.Rel(parent, p)
	return err == nil && filepath.IsLocal(rel)
}

func (c Config) prefix() string {
	if c.Prefix == "" {
		return defaultPrefix
	}
	return c.Prefix
}

// Archive describes one backup archive.
type Archive struct {
	// Path is the archive's absolute path.
	Path string
	// Size is the archive's size in bytes.
	Size int64
	// SHA256 is the hex sha256 of the .tar.gz file. From List it is what the sidecar records
	// (empty if the sidecar is missing or malformed); use Verify to check it.
	SHA256 string
	// Files counts the archived entries (files, directories, symlinks), not the manifest.
	// List leaves it 0: counting needs the whole archive read, as Verify does.
	Files int
	// Created is the backup time, in UTC and whole seconds, as in the file name.
	Created time.Time
}

// Detail is a one-line summary, e.g.
// "backup /var/backups/backup-20260102T150405Z.tar.gz: 42 files, 12.3 MiB, sha256 9f86…".
func (a Archive) Detail() string {
	s := "backup " + a.Path + ": "
	if a.Files > 0 {
		s += humanize.Count(a.Files, "file") + ", "
	}
	s += humanize.Bytes(a.Size)
	if a.SHA256 != "" {
		s += ", sha256 " + a.SHA256
	}
	return s
}

// Manifest is the content of an archive's MANIFEST.json entry.
type Manifest struct {
	// Created is the backup time.
	Created time.Time `json:"created"`
	// Files lists every archived entry in archive order.
	Files []FileEntry `json:"files"`
}

// FileEntry describes one archived entry.
type FileEntry struct {
	// Path is the entry's path relative to "/", without a trailing slash.
	Path string `json:"path"`
	// Size is the content size of a regular file, 0 for anything else.
	Size int64 `json:"size"`
	// SHA256 is the hex sha256 of a regular file's content, empty for anything else.
	SHA256 string `json:"sha256,omitempty"`
	// Mode is the entry's Go fs.FileMode (type and permission bits).
	Mode uint32 `json:"mode"`
	// Link is a symlink's target, empty for anything else.
	Link string `json:"link,omitempty"`
}

// Create writes a new archive of c.Paths to c.Dir at time now, writes its sidecar, then removes
// the archives with the same prefix beyond c.Keep, oldest first (never the new one). A path that
// is missing, or a file that changes while it is read, fails the backup and leaves no file in Dir;
// files that disappear inside a configured directory during the backup are skipped.
//
// If only the removal of old archives fails, Create returns the new Archive and an error wrapping
// ErrPrune.
func Create(ctx context.Context, c Config, now time.Time) (Archive, error) {
	if err := c.Validate(); err != nil {
		return Archive{}, err
	}
	prefix := c.prefix()
	dir := filepath.Clean(c.Dir)
	created := now.UTC().Truncate(time.Second)
	final := filepath.Join(dir, prefix+"-"+created.Format(timeLayout)+archiveExt)

	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Archive{}, fmt.Errorf("backup dir: %w", err)
	}
	dirInfo, err := os.Stat(dir)
	if err != nil {
		return Archive{}, fmt.Errorf("backup dir: %w", err)
	}
	if _, err := os.Lstat(final); err == nil {
		return Archive{}, fmt.Errorf("%w: %s", ErrExists, final)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return Archive{}, err
	}

	tmp, err := os.CreateTemp(dir, "."+prefix+"-*.tmp")
	if err != nil {
		return Archive{}, fmt.Errorf("backup: %w", err)
	}
	committed := false
	defer func() {
		if !committed {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	a := &archiver{ctx: ctx, created: created, skipDir: dirInfo}
	sum, err := a.write(tmp, c.Paths)
	if err != nil {
		return Archive{}, fmt.Errorf("backup: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return Archive{}, fmt.Errorf("backup: %w", err)
	}
	info, err := tmp.Stat()
	if err != nil {
		return Archive{}, fmt.Errorf("backup: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return Archive{}, fmt.Errorf("backup: %w", err)
	}
	if err := os.Rename(tmp.Name(), final); err != nil {
		return Archive{}, fmt.Errorf("backup: %w", err)
	}
	committed = true
	sidecar := fmt.Sprintf("%s  %s\n", sum, filepath.Base(final))
	if err := writeFileAtomic(dir, final+sidecarExt, []byte(sidecar)); err != nil {
		os.Remove(final)
		return Archive{}, fmt.Errorf("backup: sidecar: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return Archive{}, fmt.Errorf("backup: %w", err)
	}

	arch := Archive{Path: final, Size: info.Size(), SHA256: sum, Files: len(a.entries), Created: created}
	if err := prune(dir, prefix, c.Keep, final); err != nil {
		return arch, fmt.Errorf("%w after writing %s: %w", ErrPrune, final, err)
	}
	return arch, nil
}

// archiver writes one archive.
type archiver struct {
	ctx     context.Context
	created time.Time
	skipDir fs.FileInfo // the backup directory, which must never be archived
	tw      *tar.Writer
	entries []FileEntry
}

// write streams the archive of paths, then its manifest, to w and returns the hex sha256 of the
// bytes written.
func (a *archiver) write(w io.Writer, paths []string) (string, error) {
	h := sha256.New()
	bw := bufio.NewWriterSize(io.MultiWriter(w, h), 256<<10)
	gz := gzip.NewWriter(bw)
	a.tw = tar.NewWriter(gz)
	for _, p := range paths {
		if err := a.addTree(filepath.Clean(p)); err != nil {
			return "", err
		}
	}
	manifest, err := json.MarshalIndent(Manifest{Created: a.created, Files: a.entries}, "", "  ")
	if err != nil {
		return "", err
	}
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: manifestName, Mode: 0o600, Size: int64(len(manifest)), ModTime: a.created}
	if err := a.tw.WriteHeader(hdr); err != nil {
		return "", err
	}
	if _, err := a.tw.Write(manifest); err != nil {
		return "", err
	}
	if err := a.tw.Close(); err != nil {
		return "", err
	}
	if err := gz.Close(); err != nil {
		return "", err
	}
	if err := bw.Flush(); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// addTree archives the configured path top and everything under it, without following symlinks.
func (a *archiver) addTree(top string) error {
	return filepath.WalkDir(top, func(path string, d fs.DirEntry, err error) error {
		if err == nil {
			err = a.ctx.Err()
		}
		var info fs.FileInfo
		if err == nil {
			info, err = d.Info()
		}
		if err == nil {
			err = a.add(path, info)
		}
		if err != nil && path != top && errors.Is(err, fs.ErrNotExist) {
			return nil // removed while the backup ran
		}
		return err
	})
}

// add archives one entry whose Lstat information is info.
func (a *archiver) add(path string, info fs.FileInfo) error {
	name := strings.TrimPrefix(filepath.ToSlash(path), "/")
	switch {
	case info.IsDir():
		if os.SameFile(info, a.skipDir) {
			return fmt.Errorf("%s is the backup directory; archives would contain themselves", path)
		}
		return a.header(info, name, FileEntry{}, "")
	case info.Mode()&fs.ModeSymlink != 0:
		link, err := os.Readlink(path)
		if err != nil {
			return err
		}
		return a.header(info, name, FileEntry{Link: link}, link)
	case info.Mode().IsRegular():
		return a.addFile(path, name, info)
	}
	return nil // sockets, FIFOs and devices are not backed up
}

// header writes the tar header for a directory or symlink and records e for it.
func (a *archiver) header(info fs.FileInfo, name string, e FileEntry, link string) error {
	hdr, err := tar.FileInfoHeader(info, link)
	if err != nil {
		return err
	}
	hdr.Name = name
	if info.IsDir() {
		hdr.Name += "/"
	}
	if err := a.tw.WriteHeader(hdr); err != nil {
		return err
	}
	e.Path, e.Mode = name, uint32(info.Mode())
	a.entries = append(a.entries, e)
	return nil
}

// addFile archives the regular file at path if it is still the file described by info.
func (a *archiver) addFile(path, name string, info fs.FileInfo) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() || !os.SameFile(info, st) {
		return fmt.Errorf("%s was replaced while it was being archived", path)
	}
	hdr, err := tar.FileInfoHeader(st, "")
	if err != nil {
		return err
	}
	hdr.Name = name
	if err := a.tw.WriteHeader(hdr); err != nil {
		return err
	}
	h := sha256.New()
	// Only the size in the header is copied: a file that grows is archived as it was when opened.
	n, err := io.Copy(io.MultiWriter(a.tw, h), io.LimitReader(ctxReader{a.ctx, f}, st.Size()))
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if n != st.Size() {
		return fmt.Errorf("%s shrank from %d to %d bytes while it was being archived", path, st.Size(), n)
	}
	a.entries = append(a.entries, FileEntry{Path: name, Size: n, SHA256: hex.EncodeToString(h.Sum(nil)), Mode: uint32(st.Mode())})
	return nil
}

// ctxReader fails reads once its context ends, so a large file does not outlive a cancellation.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// writeFileAtomic writes data to path through a synced temporary file in dir and a rename.
func writeFileAtomic(dir, path string, data []byte) error {
	f, err := os.CreateTemp(dir, ".sidecar-*.tmp")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// syncDir makes renames in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// prune removes the archives with prefix in dir beyond the newest keep, counting current (the
// archive just written, which is never removed), oldest first, each sidecar before its archive.
func prune(dir, prefix string, keep int, current string) error {
	all, err := List(dir, prefix)
	if err != nil {
		return err
	}
	var old []Archive
	kept := 1 // current
	for _, a := range all {
		switch {
		case a.Path == current:
		case kept < keep:
			kept++
		default:
			old = append(old, a)
		}
	}
	var errs []error
	for _, a := range slices.Backward(old) {
		for _, p := range []string{a.Path + sidecarExt, a.Path} {
			if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// List returns the archives in dir with prefix (empty means "backup"), newest first. Only regular
// files named exactly <prefix>-<20060102T150405Z>.tar.gz are listed; a missing dir has none.
func List(dir, prefix string) ([]Archive, error) {
	if prefix == "" {
		prefix = defaultPrefix
	}
	if !prefixPattern.MatchString(prefix) {
		return nil, fmt.Errorf("%w: prefix: %q must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit", ErrInvalidConfig, prefix)
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list backups: %w", err)
	}
	var out []Archive
	for _, e := range entries {
		created, ok := parseName(e.Name(), prefix)
		if !ok || !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("list backups: %w", err)
		}
		a := Archive{Path: filepath.Join(dir, e.Name()), Size: info.Size(), Created: created}
		a.SHA256, _ = readSidecar(a.Path) // a missing or malformed sidecar leaves SHA256 empty
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b Archive) int {
		if c := b.Created.Compare(a.Created); c != 0 {
			return c
		}
		return strings.Compare(b.Path, a.Path)
	})
	return out, nil
}

// parseName returns the time in an archive name <prefix>-<20060102T150405Z>.tar.gz.
func parseName(name, prefix string) (time.Time, bool) {
	rest, ok := strings.CutPrefix(name, prefix+"-")
	if !ok {
		return time.Time{}, false
	}
	stamp, ok := strings.CutSuffix(rest, archiveExt)
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(timeLayout, stamp)
	if err != nil || t.Format(timeLayout) != stamp {
		return time.Time{}, false
	}
	return t, true
}

// readSidecar returns the sha256 recorded in the sidecar of the archive at path, which must be
// one sha256sum line naming the archive's base name.
func readSidecar(path string) (string, error) {
	f, err := os.Open(path + sidecarExt)
	if err != nil {
		return "", err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSidecarSize))
	if err != nil {
		return "", err
	}
	line, _ := strings.CutSuffix(string(data), "\n")
	sum, name, ok := strings.Cut(line, " ")
	name, binary := strings.CutPrefix(name, "*")
	if !binary {
		name, ok = strings.CutPrefix(name, " ")
	}
	if _, err := hex.DecodeString(sum); !ok || err != nil || len(sum) != sha256.Size*2 || name != filepath.Base(path) {
		return "", fmt.Errorf("%s%s is not a sha256sum line for %s", path, sidecarExt, filepath.Base(path))
	}
	return strings.ToLower(sum), nil
}

// Verify re-reads the archive at path: its sha256 must match its sidecar, it must end with a
// MANIFEST.json, and every entry must match the manifest (path, size, sha256, mode, link target)
// in order. It returns the manifest. A mismatch wraps ErrCorrupt.
func Verify(path string) (Manifest, error) {
	want, err := readSidecar(path)
	if err != nil {
		return Manifest{}, fmt.Errorf("verify %s: %w", path, err)
	}
	f, err := os.Open(path)
	if err != nil {
		return Manifest{}, fmt.Errorf("verify: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	r := io.TeeReader(f, h)
	m, readErr := readArchive(r)
	// Hash whatever the archive reader left, so a damaged file is reported as a checksum
	// mismatch rather than as whichever decoding error the damage happened to cause.
	if _, err := io.Copy(io.Discard, r); err != nil {
		return Manifest{}, fmt.Errorf("verify: %w", err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return Manifest{}, fmt.Errorf("%w: %s has sha256 %s, but its sidecar records %s", ErrCorrupt, path, got, want)
	}
	if readErr != nil {
		return Manifest{}, fmt.Errorf("%w: %s: %w", ErrCorrupt, path, readErr)
	}
	return m, nil
}

// readArchive reads a whole archive from r and checks its entries against its manifest.
func readArchive(r io.Reader) (Manifest, error) {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return Manifest{}, err
	}
	tr := tar.NewReader(gz)
	var got []FileEntry
	var manifest []byte
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return Manifest{}, err
		}
		e := FileEntry{Path: strings.TrimSuffix(hdr.Name, "/"), Mode: uint32(hdr.FileInfo().Mode())}
		if !filepath.IsLocal(e.Path) {
			return Manifest{}, fmt.Errorf("entry %q is not a local path", hdr.Name)
		}
		manifest = nil
		switch hdr.Typeflag {
		case tar.TypeReg:
			h := sha256.New()
			var w io.Writer = h
			var buf bytes.Buffer
			if e.Path == manifestName && hdr.Size <= maxManifestSize {
				w = io.MultiWriter(h, &buf)
			}
			if e.Size, err = io.Copy(w, tr); err != nil {
				return Manifest{}, fmt.Errorf("entry %q: %w", e.Path, err)
			}
			e.SHA256 = hex.EncodeToString(h.Sum(nil))
			if buf.Len() > 0 {
				manifest = buf.Bytes()
			}
		case tar.TypeSymlink:
			e.Link = hdr.Linkname
		}
		got = append(got, e)
	}
	// Read to the end of the gzip stream so its own checksum is checked.
	if _, err := io.Copy(io.Discard, gz); err != nil {
		return Manifest{}, err
	}
	if manifest == nil {
		return Manifest{}, errors.New("the last entry is not " + manifestName)
	}
	var m Manifest
	if err := json.Unmarshal(manifest, &m); err != nil {
		return Manifest{}, fmt.Errorf("%s: %w", manifestName, err)
	}
	got = got[:len(got)-1]
	if len(got) != len(m.Files) {
		return Manifest{}, fmt.Errorf("the archive holds %d entries but %s lists %d", len(got), manifestName, len(m.Files))
	}
	for i, e := range got {
		if e != m.Files[i] {
			return Manifest{}, fmt.Errorf("entry %d is %+v but %s lists %+v", i, e, manifestName, m.Files[i])
		}
	}
	return m, nil
}
