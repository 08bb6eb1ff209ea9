package cleanup

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// writeFile creates path (and its parents) with size bytes and the given age.
func writeFile(t testing.TB, path string, size int, age time.Duration) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, make([]byte, size), 0o644); err != nil {
		t.Fatal(err)
	}
	mtime := now.Add(-age)
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// tree builds a root with old and new files, nested directories, a symlink to a file outside the
// root and a symlinked directory pointing outside it. It returns the root and the outside dir.
func tree(t *testing.T) (root, outside string) {
	t.Helper()
	base := t.TempDir()
	root = filepath.Join(base, "root")
	outside = filepath.Join(base, "outside")
	const old, fresh = 48 * time.Hour, time.Hour
	writeFile(t, filepath.Join(root, "old.log"), 100, old)
	writeFile(t, filepath.Join(root, "new.log"), 200, fresh)
	writeFile(t, filepath.Join(root, "sub", "old.txt"), 300, old)
	writeFile(t, filepath.Join(root, "sub", "deep", "old.bin"), 50, old)
	writeFile(t, filepath.Join(root, "sub", "deep", "new.bin"), 70, fresh)
	if err := os.MkdirAll(filepath.Join(root, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(outside, "victim.txt"), 1000, old)
	writeFile(t, filepath.Join(outside, "dir", "old.log"), 1000, old)
	if err := os.Symlink(filepath.Join(outside, "victim.txt"), filepath.Join(root, "link-out.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "dir"), filepath.Join(root, "sub", "dirlink")); err != nil {
		t.Fatal(err)
	}
	return root, outside
}

func TestRunDeletesOnlyOldFilesInsideRoot(t *testing.T) {
	root, outside := tree(t)
	res, err := Run(context.Background(), []Rule{{Root: root, MaxAge: 24 * time.Hour}}, now, false)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		filepath.Join(root, "old.log"),
		filepath.Join(root, "sub", "deep", "old.bin"),
		filepath.Join(root, "sub", "old.txt"),
	}
	if !slices.Equal(res.Paths, want) {
		t.Errorf("Paths = %q, want %q", res.Paths, want)
	}
	if res.Files != 3 || res.Bytes != 100+50+300 || res.Roots != 1 || res.DryRun || res.Truncated || len(res.Errors) != 0 {
		t.Errorf("Result = %+v, want 3 files, 450 bytes, 1 root, no errors", res)
	}
	for _, p := range want {
		if exists(p) {
			t.Errorf("%s still exists", p)
		}
	}
	for _, p := range []string{
		filepath.Join(root, "new.log"),
		filepath.Join(root, "sub", "deep", "new.bin"),
		filepath.Join(root, "empty"),
		filepath.Join(root, "link-out.txt"),
		filepath.Join(root, "sub", "dirlink"),
		filepath.Join(outside, "victim.txt"),
		filepath.Join(outside, "dir", "old.log"),
	} {
		if !exists(p) {
			t.Errorf("%s was deleted", p)
		}
	}
	if got, want := res.Detail(), "deleted 3 files, 450 B freed under 1 root"; got != want {
		t.Errorf("Detail = %q, want %q", got, want)
	}
}

func TestRunPatterns(t *testing.T) {
	root, _ := tree(t)
	rules := []Rule{{Root: root, Patterns: []string{"*.log", "sub/*/*.bin"}, MaxAge: time.Minute}}
	res, err := Run(context.Background(), rules, now, false)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		filepath.Join(root, "new.log"),
		filepath.Join(root, "old.log"),
		filepath.Join(root, "sub", "deep", "new.bin"),
		filepath.Join(root, "sub", "deep", "old.bin"),
	}
	if !slices.Equal(res.Paths, want) || res.Bytes != 200+100+70+50 {
		t.Errorf("Paths = %q, Bytes = %d; want %q, 420", res.Paths, res.Bytes, want)
	}
	if !exists(filepath.Join(root, "sub", "old.txt")) {
		t.Error("sub/old.txt matched no pattern but was deleted")
	}
}

func TestRunSizeBudgetDeletesOldestFirst(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "a"), 100, 4*time.Hour)
	writeFile(t, filepath.Join(root, "x", "b"), 200, 3*time.Hour)
	writeFile(t, filepath.Join(root, "c"), 300, 2*time.Hour)
	writeFile(t, filepath.Join(root, "d"), 400, time.Hour)
	res, err := Run(context.Background(), []Rule{{Root: root, MaxBytes: 700}}, now, false)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(root, "a"), filepath.Join(root, "x", "b")}
	if !slices.Equal(res.Paths, want) || res.Files != 2 || res.Bytes != 300 {
		t.Errorf("Result = %+v, want %q and 300 bytes", res, want)
	}
	for _, name := range []string{"c", "d"} {
		if !exists(filepath.Join(root, name)) {
			t.Errorf("%s was deleted", name)
		}
	}
}

func TestRunAgeThenSize(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "ancient"), 1000, 72*time.Hour)
	writeFile(t, filepath.Join(root, "a"), 100, 3*time.Hour)
	writeFile(t, filepath.Join(root, "b"), 100, 2*time.Hour)
	writeFile(t, filepath.Join(root, "c"), 100, time.Hour)
	res, err := Run(context.Background(), []Rule{{Root: root, MaxAge: 24 * time.Hour, MaxBytes: 250}}, now, false)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(root, "ancient"), filepath.Join(root, "a")}
	if !slices.Equal(res.Paths, want) || res.Bytes != 1100 {
		t.Errorf("Result = %+v, want %q and 1100 bytes", res, want)
	}
}

func TestDryRunReportsTheSameAndDeletesNothing(t *testing.T) {
	root, _ := tree(t)
	// The second rule's root lies inside the first: a dry run must not count a file twice.
	rules := []Rule{
		{Root: root, MaxAge: 24 * time.Hour},
		{Root: filepath.Join(root, "sub"), MaxBytes: 1},
	}
	before := snapshot(t, root)
	dry, err := Run(context.Background(), rules, now, true)
	if err != nil {
		t.Fatal(err)
	}
	if after := snapshot(t, root); !slices.Equal(before, after) {
		t.Fatalf("dry run changed the tree:\nbefore %q\nafter  %q", before, after)
	}
	if !dry.DryRun || !strings.HasPrefix(dry.Detail(), "dry run: would delete 4 files") {
		t.Errorf("dry run Result = %+v, Detail %q", dry, dry.Detail())
	}
	wet, err := Run(context.Background(), rules, now, false)
	if err != nil {
		t.Fatal(err)
	}
	dry.DryRun = false
	if !reflect.DeepEqual(dry, wet) {
		t.Errorf("dry run reported\n%+v\nreal run\n%+v", dry, wet)
	}
	if wet.Files != 4 || wet.Roots != 2 {
		t.Errorf("real run = %+v, want 4 files under 2 roots", wet)
	}
}

// snapshot lists every path under root with its size.
func snapshot(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		out = append(out, fmt.Sprintf("%s %d", path, info.Size()))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRunTruncatesPaths(t *testing.T) {
	root := t.TempDir()
	for i := range maxPaths + 5 {
		writeFile(t, filepath.Join(root, fmt.Sprintf("f%03d", i)), 10, 48*time.Hour)
	}
	res, err := Run(context.Background(), []Rule{{Root: root, MaxAge: time.Hour}}, now, false)
	if err != nil {
		t.Fatal(err)
	}
	if res.Files != maxPaths+5 || res.Bytes != 10*(maxPaths+5) || len(res.Paths) != maxPaths || !res.Truncated {
		t.Errorf("Files %d Bytes %d len(Paths) %d Truncated %v", res.Files, res.Bytes, len(res.Paths), res.Truncated)
	}
}

func TestRunRefusesSymlinkedRoot(t *testing.T) {
	target := t.TempDir()
	writeFile(t, filepath.Join(target, "old"), 10, 48*time.Hour)
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	_, err := Run(context.Background(), []Rule{{Root: link, MaxAge: time.Hour}}, now, false)
	if !errors.Is(err, ErrInvalidRule) || !strings.Contains(err.Error(), "is a symlink") {
		t.Errorf("Run = %v, want a symlinked-root error", err)
	}
	if !exists(filepath.Join(target, "old")) {
		t.Error("file under a symlinked root was deleted")
	}
}

func TestRunRefusesEverythingIfOneRuleIsInvalid(t *testing.T) {
	good := t.TempDir()
	writeFile(t, filepath.Join(good, "old"), 10, 48*time.Hour)
	rules := []Rule{{Root: good, MaxAge: time.Hour}, {Root: filepath.Join(good, "missing"), MaxAge: time.Hour}}
	_, err := Run(context.Background(), rules, now, false)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "rule 1: root") {
		t.Errorf("Run = %v, want rule 1's missing root", err)
	}
	if !exists(filepath.Join(good, "old")) {
		t.Error("a file was deleted although a rule was invalid")
	}
}

func TestRunNotConfigured(t *testing.T) {
	if _, err := Run(context.Background(), nil, now, false); !errors.Is(err, ErrNotConfigured) {
		t.Errorf("Run(nil) = %v, want ErrNotConfigured", err)
	}
}

func TestRunStopsWhenCancelled(t *testing.T) {
	root, _ := tree(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, err := Run(ctx, []Rule{{Root: root, MaxAge: time.Hour}}, now, false)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v, want context.Canceled", err)
	}
	if res.Files != 0 || !exists(filepath.Join(root, "old.log")) {
		t.Errorf("cancelled Run deleted files: %+v", res)
	}
}

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	writeFile(t, file, 1, 0)
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		rule Rule
		want string // substring of the message, "" for valid
		is   error  // an error the result must wrap, beside ErrInvalidRule
	}{
		{"ok", Rule{Root: dir, Patterns: []string{"*.log", "cache/*", "[a-c]?.tmp", `x\*`}, MaxAge: time.Hour}, "", nil},
		{"unclean root is cleaned", Rule{Root: dir + "/./", MaxBytes: 1}, "", nil},
		{"symlink root", Rule{Root: link, MaxAge: time.Hour}, "rule 0: root: " + link + " is a symlink", nil},
		{"relative root", Rule{Root: "var/log", MaxAge: time.Hour}, `root: "var/log" is not an absolute path`, nil},
		{"empty root", Rule{MaxAge: time.Hour}, "root: is empty", nil},
		{"missing root", Rule{Root: filepath.Join(dir, "nope"), MaxAge: time.Hour}, "root: lstat", fs.ErrNotExist},
		{"file root", Rule{Root: file, MaxAge: time.Hour}, "is not a directory", nil},
		{"filesystem root", Rule{Root: "/", MaxAge: time.Hour}, "file system root", nil},
		{"filesystem root unclean", Rule{Root: "/var/..", MaxAge: time.Hour}, "file system root", nil},
		{"dotdot pattern", Rule{Root: dir, Patterns: []string{"../*"}, MaxAge: time.Hour}, `patterns[0]: "../*" contains ".."`, nil},
		{"inner dotdot", Rule{Root: dir, Patterns: []string{"ok", "a/../b"}, MaxAge: time.Hour}, `patterns[1]: "a/../b" contains ".."`, nil},
		{"absolute pattern", Rule{Root: dir, Patterns: []string{"/etc/*"}, MaxAge: time.Hour}, "is absolute", nil},
		{"empty pattern", Rule{Root: dir, Patterns: []string{""}, MaxAge: time.Hour}, "patterns[0]: is empty", nil},
		{"unclean pattern", Rule{Root: dir, Patterns: []string{"./*.log"}, MaxAge: time.Hour}, "not a clean relative path", nil},
		{"bad pattern", Rule{Root: dir, Patterns: []string{"[a-"}, MaxAge: time.Hour}, "syntax error", filepath.ErrBadPattern},
		{"bad pattern after a star", Rule{Root: dir, Patterns: []string{"x*["}, MaxAge: time.Hour}, "syntax error", filepath.ErrBadPattern},
		{"negative age", Rule{Root: dir, MaxAge: -time.Hour}, "max_age: -1h0m0s is negative", nil},
		{"negative bytes", Rule{Root: dir, MaxBytes: -1, MaxAge: time.Hour}, "max_bytes: -1 is negative", nil},
		{"no limit", Rule{Root: dir}, "would delete nothing", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Validate([]Rule{tt.rule})
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, ErrInvalidRule) {
				t.Fatalf("Validate = %v, want an ErrInvalidRule containing %q", err, tt.want)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("Validate = %v, want it to wrap %v", err, tt.is)
			}
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	err := Validate([]Rule{
		{Root: t.TempDir(), MaxAge: time.Hour},
		{Root: "rel", Patterns: []string{"..", "/abs"}, MaxBytes: -5},
	})
	if err == nil {
		t.Fatal("Validate = nil")
	}
	for _, want := range []string{"rule 1: root", "rule 1: patterns[0]", "rule 1: patterns[1]", "rule 1: max_bytes"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate = %v, missing %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "rule 0") {
		t.Errorf("Validate = %v, blames the valid rule 0", err)
	}
}

func TestDetail(t *testing.T) {
	tests := []struct {
		res  Result
		want string
	}{
		{Result{Files: 12, Bytes: 3565158, Roots: 2}, "deleted 12 files, 3.4 MiB freed under 2 roots"},
		{Result{Files: 1, Bytes: 2048, Roots: 1, DryRun: true}, "dry run: would delete 1 file, freeing 2.0 KiB under 1 root"},
		{Result{Roots: 1, Errors: []string{"remove /x/y: permission denied"}}, "deleted 0 files, 0 B freed under 1 root; 1 error, first: remove /x/y: permission denied"},
	}
	for _, tt := range tests {
		if got := tt.res.Detail(); got != tt.want {
			t.Errorf("Detail = %q, want %q", got, tt.want)
		}
	}
}

func FuzzValidate(f *testing.F) {
	dir := f.TempDir()
	for _, seed := range [][2]string{
		{dir, "*.log"}, {dir, "../x"}, {dir, "a/../b"}, {dir, "/etc/*"}, {dir, "[a-"}, {dir, "x*["},
		{dir, `\`}, {dir, "[]a]"}, {dir, "[^]"}, {dir, "cache/*"}, {dir, ".."}, {dir, "a..b"},
		{"/", "*"}, {"relative", "*"}, {"", ""}, {dir + "/missing", "*"}, {dir, "[\xff]"}, {dir, "*[*]"},
	} {
		f.Add(seed[0], seed[1])
	}
	names := []string{"", "a", "x", "a.log", "cache/a", "[", "]", "-", "\\", "a/b/c", "\xff", "x*"}
	f.Fuzz(func(t *testing.T, root, pattern string) {
		_ = Validate([]Rule{{Root: root, Patterns: []string{pattern}, MaxAge: time.Hour}})

		err := Validate([]Rule{{Root: dir, Patterns: []string{pattern}, MaxAge: time.Hour}})
		if err == nil {
			if strings.Contains(pattern, "..") {
				t.Fatalf("accepted pattern %q containing \"..\"", pattern)
			}
			if filepath.IsAbs(pattern) {
				t.Fatalf("accepted absolute pattern %q", pattern)
			}
		}
		for _, name := range names {
			if _, merr := filepath.Match(pattern, name); merr != nil && err == nil {
				t.Fatalf("accepted pattern %q, but Match(%q) = %v", pattern, name, merr)
			}
		}
		if errors.Is(err, filepath.ErrBadPattern) != (err != nil && strings.Contains(err.Error(), "syntax error")) {
			t.Fatalf("Validate(%q) = %v: ErrBadPattern not wrapped", pattern, err)
		}

		if Validate([]Rule{{Root: root, MaxAge: time.Hour}}) == nil {
			fi, lerr := os.Lstat(root)
			if !filepath.IsAbs(root) || lerr != nil || !fi.IsDir() || filepath.Clean(root) == "/" {
				t.Fatalf("accepted root %q", root)
			}
		}
	})
}
