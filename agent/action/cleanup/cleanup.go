// Package cleanup owns the agent's cleanup action: deleting old or excess regular files under the
// roots named in the agent's own configuration.
//
// The control plane can only ask for a cleanup (and whether it is a dry run); every decision about
// what may be deleted comes from the configured Rules. Run works through an os.Root opened on each
// rule's root, so no path it reads or deletes can resolve outside that root. It never follows a
// symlink, never descends a symlinked directory, deletes only regular files, leaves directories
// (empty or not) in place, and re-checks before each deletion that the file is the one it chose.
package cleanup

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/dspyfleet/dspyfleet/internal/humanize"
)

const (
	maxPaths  = 100 // Result.Paths holds at most this many paths
	maxErrors = 20  // Result.Errors holds at most this many messages
)

var (
	// ErrInvalidRule marks a configured rule that is refused, at validation or at run time.
	ErrInvalidRule = errors.New("invalid cleanup rule")
	// ErrNotConfigured is returned by Run when the agent has no cleanup rules.
	ErrNotConfigured = errors.New("no cleanup roots are configured on this agent")
)

// Rule is one configured cleanup root.
type Rule struct {
	// Root is the absolute directory to clean. It must exist, be a directory and not be a
	// symlink, both when validated and when a cleanup runs. The file system root "/" is refused.
	Root string
	// Patterns are filepath.Match patterns on a file's path relative to Root ("*.log",
	// "cache/*"). As in filepath.Match, "*" does not cross "/": "*.log" matches only files
	// directly under Root, "*/*.log" those one level down. Empty means every file. A pattern may
	// not be absolute, contain "..", or be unclean ("./x", "x/").
	Patterns []string
	// MaxAge deletes matching regular files whose modification time is older than this; 0 means
	// no age rule.
	MaxAge time.Duration
	// MaxBytes then deletes the oldest remaining matching files while their total size exceeds
	// this many bytes; 0 means no size rule. A rule needs MaxAge or MaxBytes.
	MaxBytes int64
}

// Validate checks rules against the file system and reports every problem, each naming the rule
// index and field, joined with errors.Join. Each problem wraps ErrInvalidRule, and the underlying
// cause where there is one (fs.ErrNotExist, filepath.ErrBadPattern).
func Validate(rules []Rule) error {
	var errs []error
	for i, r := range rules {
		bad := func(field string, err error) {
			errs = append(errs, fmt.Errorf("%w %d: %s: %w", ErrInvalidRule, i, field, err))
		}
		if _, err := checkRoot(r.Root); err != nil {
			bad("root", err)
		}
		for j, p := range r.Patterns {
			if err := checkPattern(p); err != nil {
				bad(fmt.Sprintf("patterns[%d]", j), err)
			}
		}
		if r.MaxAge < 0 {
			bad("max_age", fmt.Errorf("%s is negative", r.MaxAge))
		}
		if r.MaxBytes < 0 {
			bad("max_bytes", fmt.Errorf("%d is negative", r.MaxBytes))
		}
		if r.MaxAge == 0 && r.MaxBytes == 0 {
			bad("max_age", errors.New("neither max_age nor max_bytes is set, so the rule would delete nothing"))
		}
	}
	return errors.Join(errs...)
}

// checkRoot reports whether root is an absolute, existing directory that is not a symlink and not
// the file system root, and returns its Lstat information.
func checkRoot(root string) (fs.FileInfo, error) {
	switch {
	case root == "":
		return nil, errors.New("is empty")
	case !filepath.IsAbs(root):
		return nil, fmt.Errorf("%q is not an absolute path", root)
	case filepath.Dir(filepath.Clean(root)) == filepath.Clean(root):
		return nil, fmt.Errorf("%q is the file system root; refusing to clean it", root)
	}
	fi, err := os.Lstat(root)
	switch {
	case err != nil:
		return nil, err
	case fi.Mode()&fs.ModeSymlink != 0:
		return nil, fmt.Errorf("%s is a symlink; name the directory it points to", root)
	case !fi.IsDir():
		return nil, fmt.Errorf("%s is not a directory", root)
	}
	return fi, nil
}

// checkPattern reports whether p is a well-formed, clean, relative filepath.Match pattern with
// no "..".
func checkPattern(p string) error {
	switch {
	case p == "":
		return errors.New("is empty")
	case strings.Contains(p, ".."):
		return fmt.Errorf(`%q contains ".."`, p)
	case filepath.IsAbs(p) || strings.HasPrefix(p, string(filepath.Separator)):
		return fmt.Errorf("%q is absolute; patterns are relative to the root", p)
	case p == "." || filepath.Clean(p) != p:
		return fmt.Errorf("%q is not a clean relative path and would match nothing", p)
	}
	// filepath.Match stops parsing at the first chunk that fails to match, so a syntax error
	// further on goes unnoticed. Each star-free chunk is parsed on its own against "", which
	// makes Match read all of it.
	for rest := p; rest != ""; {
		var chunk string
		chunk, rest = nextChunk(rest)
		if _, err := filepath.Match(chunk, ""); err != nil {
			return fmt.Errorf("%q: %w", p, err)
		}
	}
	return nil
}

// nextChunk splits pattern, as filepath.Match does, into its first run of text without an
// unescaped "*" outside a character class (leading stars dropped) and the rest.
func nextChunk(pattern string) (chunk, rest string) {
	pattern = strings.TrimLeft(pattern, "*")
	inRange := false
	for i := 0; i < len(pattern); i++ {
		switch pattern[i] {
		case '\\':
			if filepath.Separator != '\\' && i+1 < len(pattern) {
				i++
			}
		case '[':
			inRange = true
		case ']':
			inRange = false
		case '*':
			if !inRange {
				return pattern[:i], pattern[i:]
			}
		}
	}
	return pattern, ""
}

// Result reports what a cleanup deleted, or in a dry run what it would have deleted.
type Result struct {
	// Files and Bytes count the deleted files and the sum of their sizes when deleted.
	// A file with other hard links frees less space than its size.
	Files int
	Bytes int64
	// Paths lists the first 100 deleted files as absolute paths; Truncated says there were more.
	Paths     []string
	Truncated bool
	// Roots counts the rules whose root was cleaned.
	Roots int
	// DryRun says nothing was deleted.
	DryRun bool
	// Errors holds the first 20 per-file problems (a directory or file that could not be read
	// or deleted). They do not stop the cleanup.
	Errors []string
}

// Run applies rules in order at time now and reports what was deleted. With dryRun it deletes
// nothing and reports what it would have deleted, including across rules whose roots overlap.
//
// Run validates every rule first and deletes nothing if any is invalid. Each root is checked again
// when its turn comes and refused if it is no longer a directory or has become a symlink. Per-file
// problems are collected in Result.Errors; the returned error is for refused rules and
// cancellation, in which case the Result covers what was done before.
func Run(ctx context.Context, rules []Rule, now time.Time, dryRun bool) (Result, error) {
	res := Result{DryRun: dryRun}
	if len(rules) == 0 {
		return res, ErrNotConfigured
	}
	if err := Validate(rules); err != nil {
		return res, err
	}
	done := make(map[string]bool) // deleted (or, in a dry run, chosen) files by real path
	for i, rule := range rules {
		if err := runRule(ctx, i, rule, now, &res, done); err != nil {
			return res, err
		}
		res.Roots++
	}
	return res, nil
}

// runRule cleans one rule's root, adding to res.
func runRule(ctx context.Context, i int, rule Rule, now time.Time, res *Result, done map[string]bool) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("cleanup interrupted: %w", err)
	}
	dir := filepath.Clean(rule.Root)
	want, err := checkRoot(dir)
	if err != nil {
		return fmt.Errorf("%w %d: root: %w", ErrInvalidRule, i, err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("%w %d: root: %w", ErrInvalidRule, i, err)
	}
	defer root.Close()
	got, err := root.Stat(".")
	if err != nil {
		return fmt.Errorf("%w %d: root: %w", ErrInvalidRule, i, err)
	}
	if !os.SameFile(want, got) {
		return fmt.Errorf("%w %d: root: %s was replaced while it was being opened; refusing", ErrInvalidRule, i, dir)
	}
	resolved, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return fmt.Errorf("%w %d: root: %w", ErrInvalidRule, i, err)
	}
	w := &walker{root: root, dir: dir, resolved: resolved, patterns: rule.Patterns, dryRun: res.DryRun, res: res, done: done}
	if err := w.walk(ctx, ".", got); err != nil {
		return err
	}

	var kept []candidate
	for _, c := range w.found {
		if rule.MaxAge > 0 && now.Sub(c.info.ModTime()) > rule.MaxAge {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("cleanup interrupted: %w", err)
			}
			if w.remove(c) {
				continue
			}
		}
		kept = append(kept, c)
	}
	if rule.MaxBytes <= 0 {
		return nil
	}
	slices.SortFunc(kept, func(a, b candidate) int {
		if c := a.info.ModTime().Compare(b.info.ModTime()); c != 0 {
			return c
		}
		return strings.Compare(a.rel, b.rel)
	})
	var total int64
	for _, c := range kept {
		total += c.info.Size()
	}
	for _, c := range kept {
		if total <= rule.MaxBytes {
			break
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("cleanup interrupted: %w", err)
		}
		if w.remove(c) {
			total -= c.info.Size()
		}
	}
	return nil
}

// candidate is a matching regular file found by the walk.
type candidate struct {
	rel  string      // path relative to the root
	info fs.FileInfo // its Lstat information at walk time
}

// walker finds and deletes files under one root.
type walker struct {
	root     *os.Root
	dir      string // the root as configured, for reported paths
	resolved string // the root with symlinks in its parents resolved, for the done set
	patterns []string
	dryRun   bool
	res      *Result
	done     map[string]bool
	found    []candidate
}

var errReplaced = errors.New("replaced during the cleanup; left alone")

// walk adds the matching regular files under the directory rel, whose Lstat information is want,
// to w.found in lexical order. Symlinks are neither followed nor collected. It returns an error
// only when ctx ends.
func (w *walker) walk(ctx context.Context, rel string, want fs.FileInfo) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("cleanup interrupted: %w", err)
	}
	names, ok := w.readDir(rel, want)
	if !ok {
		return nil
	}
	slices.Sort(names)
	for _, name := range names {
		child := filepath.Join(rel, name)
		if !filepath.IsLocal(child) {
			w.fail("walk", child, errors.New("path escapes the root; skipped"))
			continue
		}
		fi, err := w.root.Lstat(child)
		if err != nil {
			w.fail("lstat", child, err)
			continue
		}
		switch {
		case fi.IsDir():
			if err := w.walk(ctx, child, fi); err != nil {
				return err
			}
		case fi.Mode().IsRegular() && w.match(child) && !w.done[filepath.Join(w.resolved, child)]:
			w.found = append(w.found, candidate{rel: child, info: fi})
		}
	}
	return nil
}

// readDir lists the directory rel if it is still the directory described by want.
func (w *walker) readDir(rel string, want fs.FileInfo) ([]string, bool) {
	f, err := w.root.Open(rel)
	if err != nil {
		w.fail("open", rel, err)
		return nil, false
	}
	defer f.Close()
	got, err := f.Stat()
	if err != nil {
		w.fail("stat", rel, err)
		return nil, false
	}
	if !os.SameFile(want, got) {
		w.fail("open", rel, errReplaced)
		return nil, false
	}
	names, err := f.Readdirnames(-1)
	if err != nil {
		w.fail("read", rel, err) // keep the names read before the error
	}
	return names, true
}

// match reports whether rel matches one of the patterns, or whether there are none.
func (w *walker) match(rel string) bool {
	if len(w.patterns) == 0 {
		return true
	}
	for _, p := range w.patterns {
		if ok, _ := filepath.Match(p, rel); ok { // patterns are validated, so Match cannot fail
			return true
		}
	}
	return false
}

// remove deletes c (or in a dry run, only records it) if it is still the same unchanged regular
// file, and reports whether it did.
func (w *walker) remove(c candidate) bool {
	fi, err := w.root.Lstat(c.rel)
	if err != nil {
		w.fail("lstat", c.rel, err)
		return false
	}
	if !fi.Mode().IsRegular() || !os.SameFile(fi, c.info) || !fi.ModTime().Equal(c.info.ModTime()) {
		w.fail("remove", c.rel, errReplaced)
		return false
	}
	if !w.dryRun {
		if err := w.root.Remove(c.rel); err != nil {
			w.fail("remove", c.rel, err)
			return false
		}
	}
	w.done[filepath.Join(w.resolved, c.rel)] = true
	r := w.res
	r.Files++
	r.Bytes += fi.Size()
	if len(r.Paths) < maxPaths {
		r.Paths = append(r.Paths, filepath.Join(w.dir, c.rel))
	} else {
		r.Truncated = true
	}
	return true
}

// fail records a per-file problem. A file that no longer exists is not a problem.
func (w *walker) fail(op, rel string, err error) {
	if errors.Is(err, fs.ErrNotExist) || len(w.res.Errors) >= maxErrors {
		return
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	w.res.Errors = append(w.res.Errors, fmt.Sprintf("%s %s: %v", op, filepath.Join(w.dir, rel), err))
}

// Detail is a one-line summary, e.g. "deleted 12 files, 3.4 MiB freed under 2 roots".
func (r Result) Detail() string {
	var s string
	if r.DryRun {
		s = fmt.Sprintf("dry run: would delete %s, freeing %s under %s", humanize.Count(r.Files, "file"), humanize.Bytes(r.Bytes), humanize.Count(r.Roots, "root"))
	} else {
		s = fmt.Sprintf("deleted %s, %s freed under %s", humanize.Count(r.Files, "file"), humanize.Bytes(r.Bytes), humanize.Count(r.Roots, "root"))
	}
	switch n := len(r.Errors); {
	case n >= maxErrors:
		s += fmt.Sprintf("; at least %d errors, first: %s", n, r.Errors[0])
	case n > 0:
		s += fmt.Sprintf("; %s, first: %s", humanize.Count(n, "error"), r.Errors[0])
	}
	return s
}
