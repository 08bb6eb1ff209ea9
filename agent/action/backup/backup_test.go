package backup

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var now = time.Date(2026, 1, 2, 15, 4, 5, 600_000_000, time.FixedZone("CET", 3600))

// source builds a tree to back up: files, a subdirectory, a symlink, and a separate single file.
// It returns the paths to configure.
func source(t *testing.T) []string {
	t.Helper()
	base := t.TempDir()
	data := filepath.Join(base, "data")
	for name, content := range map[string]string{
		"a.txt":          "alpha\n",
		"sub/b.bin":      strings.Repeat("b", 100_000),
		"sub/deep/c.txt": "",
	} {
		p := filepath.Join(data, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("../a.txt", filepath.Join(data, "sub", "link")); err != nil {
		t.Fatal(err)
	}
	single := filepath.Join(base, "single.conf")
	if err := os.WriteFile(single, []byte("key = value\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return []string{data, single}
}

// dirNames lists the names in dir, sorted.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

func TestCreate(t *testing.T) {
	paths := source(t)
	dir := filepath.Join(t.TempDir(), "backups")
	a, err := Create(context.Background(), Config{Paths: paths, Dir: dir, Keep: 3}, now)
	if err != nil {
		t.Fatal(err)
	}
	wantPath := filepath.Join(dir, "backup-20260102T140405Z.tar.gz")
	if a.Path != wantPath || !a.Created.Equal(time.Date(2026, 1, 2, 14, 4, 5, 0, time.UTC)) {
		t.Errorf("Archive = %+v, want path %s created 14:04:05 UTC", a, wantPath)
	}
	if got := fileSHA256(t, a.Path); a.SHA256 != got {
		t.Errorf("Archive.SHA256 = %s, file has %s", a.SHA256, got)
	}
	if fi, err := os.Stat(a.Path); err != nil || fi.Size() != a.Size || fi.Mode().Perm() != 0o600 {
		t.Errorf("archive stat = %v, %v; want size %d, mode 0600", fi, err, a.Size)
	}
	if want := []string{filepath.Base(wantPath), filepath.Base(wantPath) + ".sha256"}; !slices.Equal(dirNames(t, dir), want) {
		t.Errorf("Dir holds %q, want %q", dirNames(t, dir), want)
	}
	sidecar, err := os.ReadFile(a.Path + ".sha256")
	if err != nil {
		t.Fatal(err)
	}
	if want := a.SHA256 + "  " + filepath.Base(a.Path) + "\n"; string(sidecar) != want {
		t.Errorf("sidecar = %q, want %q", sidecar, want)
	}

	// Read the archive with the standard library alone and check it against the real files.
	f, err := os.Open(a.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	var names []string
	var manifest Manifest
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(hdr.Name, "/") {
			t.Errorf("entry %q has a leading slash", hdr.Name)
		}
		names = append(names, hdr.Name)
		if hdr.Name == manifestName {
			if err := json.NewDecoder(tr).Decode(&manifest); err != nil {
				t.Fatal(err)
			}
		}
	}
	if names[len(names)-1] != manifestName {
		t.Errorf("last entry is %q, want %s", names[len(names)-1], manifestName)
	}
	rel := func(p string) string { return strings.TrimPrefix(p, "/") }
	data := paths[0]
	wantNames := []string{
		rel(data) + "/",
		rel(data) + "/a.txt",
		rel(data) + "/sub/",
		rel(data) + "/sub/b.bin",
		rel(data) + "/sub/deep/",
		rel(data) + "/sub/deep/c.txt",
		rel(data) + "/sub/link",
		rel(paths[1]),
		manifestName,
	}
	if !slices.Equal(names, wantNames) {
		t.Errorf("entries = %q\nwant %q", names, wantNames)
	}
	if len(manifest.Files) != a.Files || a.Files != len(wantNames)-1 {
		t.Errorf("manifest lists %d entries, Archive.Files = %d, want %d", len(manifest.Files), a.Files, len(wantNames)-1)
	}
	if !manifest.Created.Equal(a.Created) {
		t.Errorf("manifest Created = %v, want %v", manifest.Created, a.Created)
	}
	for _, e := range manifest.Files {
		onDisk := "/" + e.Path
		fi, err := os.Lstat(onDisk)
		if err != nil {
			t.Fatal(err)
		}
		if fs.FileMode(e.Mode) != fi.Mode() {
			t.Errorf("%s: manifest mode %v, file has %v", e.Path, fs.FileMode(e.Mode), fi.Mode())
		}
		switch {
		case fi.Mode().IsRegular():
			if want := fileSHA256(t, onDisk); e.SHA256 != want || e.Size != fi.Size() {
				t.Errorf("%s: manifest %d bytes sha256 %s, file has %d bytes sha256 %s", e.Path, e.Size, e.SHA256, fi.Size(), want)
			}
		case fi.Mode()&fs.ModeSymlink != 0:
			if e.Link != "../a.txt" || e.SHA256 != "" {
				t.Errorf("%s: manifest %+v, want link ../a.txt", e.Path, e)
			}
		case fi.IsDir():
			if e.SHA256 != "" || e.Size != 0 {
				t.Errorf("%s: manifest %+v for a directory", e.Path, e)
			}
		}
	}

	m, err := Verify(a.Path)
	if err != nil {
		t.Fatalf("Verify = %v", err)
	}
	if !slices.Equal(m.Files, manifest.Files) {
		t.Errorf("Verify manifest = %+v, want %+v", m.Files, manifest.Files)
	}
	if !strings.HasPrefix(a.Detail(), "backup "+a.Path+": 8 files, ") || !strings.HasSuffix(a.Detail(), "sha256 "+a.SHA256) {
		t.Errorf("Detail = %q", a.Detail())
	}
}

func TestSidecarWorksWithSha256sum(t *testing.T) {
	sha256sum, err := exec.LookPath("sha256sum")
	if err != nil {
		t.Skip("sha256sum not installed")
	}
	dir := t.TempDir()
	a, err := Create(context.Background(), Config{Paths: source(t), Dir: dir, Keep: 1}, now)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(sha256sum, "--strict", "-c", filepath.Base(a.Path)+".sha256")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("sha256sum -c: %v\n%s", err, out)
	}
}

func TestVerifyDetectsCorruption(t *testing.T) {
	dir := t.TempDir()
	a, err := Create(context.Background(), Config{Paths: source(t), Dir: dir, Keep: 1}, now)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(a.Path)
	if err != nil {
		t.Fatal(err)
	}
	for _, off := range []int{0, len(data) / 2, len(data) - 1} {
		corrupt := slices.Clone(data)
		corrupt[off] ^= 0x01
		if err := os.WriteFile(a.Path, corrupt, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Verify(a.Path)
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "but its sidecar records "+a.SHA256) {
			t.Errorf("byte %d flipped: Verify = %v, want a sha256 mismatch", off, err)
		}
	}

	// An archive that matches its sidecar but not its manifest is caught by the entry check.
	if err := os.WriteFile(a.Path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	forged := forge(t, a.Path)
	if err := os.WriteFile(a.Path+".sha256", []byte(forged+"  "+filepath.Base(a.Path)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(a.Path); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "lists") {
		t.Errorf("forged entry: Verify = %v, want a manifest mismatch", err)
	}

	if err := os.Remove(a.Path + ".sha256"); err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(a.Path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing sidecar: Verify = %v, want fs.ErrNotExist", err)
	}
}

// forge rewrites the archive at path with one byte of a.txt changed but the manifest kept, and
// returns the new file's sha256.
func forge(t *testing.T, path string) string {
	t.Helper()
	in, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	gz, err := gzip.NewReader(in)
	if err != nil {
		t.Fatal(err)
	}
	tmp := path + ".forged"
	out, err := os.Create(tmp)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	gw := gzip.NewWriter(io.MultiWriter(out, h))
	tw := tar.NewWriter(gw)
	tr := tar.NewReader(gz)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(hdr.Name, "/a.txt") {
			body[0] ^= 0x01
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func TestKeep(t *testing.T) {
	paths := source(t)
	dir := t.TempDir()
	// Files in Dir that are not this prefix's archives are never touched.
	others := []string{"notes.txt", "backup-db-20200101T000000Z.tar.gz", "backup-2020.tar.gz", "other-20200101T000000Z.tar.gz"}
	for _, name := range others {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c := Config{Paths: paths, Dir: dir, Keep: 2}
	var created []Archive
	for i := range 3 {
		a, err := Create(context.Background(), c, now.Add(time.Duration(i)*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		created = append(created, a)
	}
	want := slices.Sorted(slices.Values(append(slices.Clone(others),
		filepath.Base(created[1].Path), filepath.Base(created[1].Path)+".sha256",
		filepath.Base(created[2].Path), filepath.Base(created[2].Path)+".sha256",
	)))
	if got := dirNames(t, dir); !slices.Equal(got, want) {
		t.Errorf("Dir holds %q\nwant %q", got, want)
	}

	list, err := List(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Path != created[2].Path || list[1].Path != created[1].Path {
		t.Fatalf("List = %+v, want the last two archives, newest first", list)
	}
	for i, a := range list {
		want := created[2-i]
		if a.SHA256 != want.SHA256 || a.Size != want.Size || !a.Created.Equal(want.Created) {
			t.Errorf("List[%d] = %+v, want %+v", i, a, want)
		}
	}

	// A clock that went backwards never prunes the archive it has just written.
	a, err := Create(context.Background(), c, now.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(a.Path); err != nil {
		t.Errorf("the new archive was pruned: %v", err)
	}
	if _, err := os.Stat(created[2].Path); err != nil {
		t.Errorf("the newest archive was pruned: %v", err)
	}
	if _, err := os.Stat(created[1].Path); err == nil {
		t.Errorf("%s was kept beyond Keep", created[1].Path)
	}
}

func TestCreateRefusesToOverwrite(t *testing.T) {
	c := Config{Paths: source(t), Dir: t.TempDir(), Keep: 5}
	if _, err := Create(context.Background(), c, now); err != nil {
		t.Fatal(err)
	}
	if _, err := Create(context.Background(), c, now); !errors.Is(err, ErrExists) {
		t.Errorf("second Create in the same second = %v, want ErrExists", err)
	}
}

func TestCreateMissingPath(t *testing.T) {
	paths := source(t)
	missing := filepath.Join(t.TempDir(), "gone")
	dir := t.TempDir()
	_, err := Create(context.Background(), Config{Paths: append(paths, missing), Dir: dir, Keep: 1}, now)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Errorf("Create = %v, want an error naming %s", err, missing)
	}
	if names := dirNames(t, dir); len(names) != 0 {
		t.Errorf("Dir holds %q after a failed backup", names)
	}
}

func TestCreatePathVanishesDuringRun(t *testing.T) {
	paths := source(t)
	a := &archiver{ctx: context.Background(), created: now}
	// Bypass Validate, as if the path disappeared after it: the walk must fail naming it.
	missing := filepath.Join(t.TempDir(), "gone")
	_, err := a.write(io.Discard, []string{paths[0], missing})
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Errorf("write = %v, want an error naming %s", err, missing)
	}
}

func TestCreateCancelled(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Create(ctx, Config{Paths: source(t), Dir: dir, Keep: 1}, now); !errors.Is(err, context.Canceled) {
		t.Errorf("Create = %v, want context.Canceled", err)
	}
	if names := dirNames(t, dir); len(names) != 0 {
		t.Errorf("Dir holds %q after a cancelled backup", names)
	}
}

func TestCreateRefusesDirInsidePath(t *testing.T) {
	paths := source(t)
	// Lexically inside: refused by Validate.
	_, err := Create(context.Background(), Config{Paths: paths, Dir: filepath.Join(paths[0], "backups"), Keep: 1}, now)
	if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "archives would contain themselves") {
		t.Errorf("Create = %v, want dir-inside-path refused", err)
	}
	// Inside through a symlink: caught by the walk, and nothing is left behind.
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(filepath.Join(paths[0], "sub"), link); err != nil {
		t.Fatal(err)
	}
	_, err = Create(context.Background(), Config{Paths: paths, Dir: link, Keep: 1}, now)
	if err == nil || !strings.Contains(err.Error(), "is the backup directory") {
		t.Errorf("Create = %v, want the backup directory refused", err)
	}
	if names := dirNames(t, link); !slices.Equal(names, []string{"b.bin", "deep", "link"}) {
		t.Errorf("Dir holds %q after a refused backup", names)
	}
}

func TestValidate(t *testing.T) {
	paths := source(t)
	dir := t.TempDir()
	file := paths[1]
	tests := []struct {
		name string
		c    Config
		want []string // substrings of the message; none for valid
	}{
		{"ok", Config{Paths: paths, Dir: filepath.Join(dir, "new"), Keep: 1, Prefix: "db.daily"}, nil},
		{"empty", Config{}, []string{"paths: is empty", "dir: is empty", "keep: 0 must be at least 1"}},
		{"relative", Config{Paths: []string{"etc"}, Dir: "backups", Keep: 1}, []string{`paths[0]: "etc" is not an absolute path`, `dir: "backups" is not an absolute path`}},
		{"missing", Config{Paths: []string{filepath.Join(dir, "nope")}, Dir: dir, Keep: 1}, []string{"paths[0]: lstat " + filepath.Join(dir, "nope")}},
		{"root", Config{Paths: []string{"/"}, Dir: dir, Keep: 1}, []string{"paths[0]", "file system root"}},
		{"overlap", Config{Paths: []string{paths[0], filepath.Join(paths[0], "sub")}, Dir: dir, Keep: 1}, []string{"paths[1]", "overlaps paths[0]"}},
		{"dir is a file", Config{Paths: paths, Dir: file, Keep: 1}, []string{"dir: " + file + " is not a directory"}},
		{"prefix", Config{Paths: paths, Dir: dir, Keep: 1, Prefix: "../x"}, []string{`prefix: "../x" must be`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.c.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate = %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("Validate = %v, want ErrInvalidConfig", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate = %v, missing %q", err, w)
				}
			}
		})
	}
}

func TestListMissingDir(t *testing.T) {
	list, err := List(filepath.Join(t.TempDir(), "none"), "backup")
	if err != nil || len(list) != 0 {
		t.Errorf("List = %v, %v; want none", list, err)
	}
}
