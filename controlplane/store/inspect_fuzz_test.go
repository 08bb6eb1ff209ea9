package store

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzCheckBoltFile feeds damaged and truncated state files to the meta-page check that runs
// before bbolt maps a file: it must never crash, must refuse with ErrCorruptStore, and must
// refuse every truncation of a valid file that cuts into its pages.
func FuzzCheckBoltFile(f *testing.F) {
	dir := f.TempDir()
	st, err := Open(dir, time.Second)
	if err != nil {
		f.Fatal(err)
	}
	if err := st.PutNodes(map[string][]byte{"n1": {0x0a, 0x02, 'n', '1'}}); err != nil {
		f.Fatal(err)
	}
	var need int
	if err := st.View(func(tx *Tx) error { need = int(tx.Size()); return nil }); err != nil {
		f.Fatal(err)
	}
	if err := st.Close(); err != nil {
		f.Fatal(err)
	}
	good, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		f.Fatal(err)
	}
	if err := checkBoltFile(filepath.Join(dir, FileName)); err != nil {
		f.Fatalf("a valid file was refused: %v", err)
	}
	// The fuzzer mutates the two meta pages; the rest of the file is zeros up to size bytes.
	head := good[:8192]
	f.Add(head, len(good))
	f.Add(head, len(good)/2)
	f.Add(head[:100], 8192)
	f.Add([]byte("not a database"), 14)
	work := f.TempDir()
	f.Fuzz(func(t *testing.T, head []byte, size int) {
		size = (size%(1<<16) + 1<<16) % (1 << 16)
		raw := make([]byte, max(size, len(head)))
		copy(raw, head)
		raw = raw[:size]
		path := filepath.Join(work, "fleet.db")
		if err := os.WriteFile(path, raw, 0o600); err != nil {
			t.Fatal(err)
		}
		err := checkBoltFile(path)
		if err != nil && !errors.Is(err, ErrCorruptStore) {
			t.Fatalf("checkBoltFile error %v is not ErrCorruptStore", err)
		}
		if err == nil && size < need && len(head) >= 8192 && string(head) == string(good[:8192]) {
			t.Fatalf("a valid file truncated to %d bytes, below its %d bytes of pages, was accepted", size, need)
		}
	})
}
