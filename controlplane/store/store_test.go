package store

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

func TestStoreRoundTrip(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	n := &fleetv1.Node{Id: "n1", Pool: "p", State: fleetv1.NodeState_NODE_STATE_READY, LastReport: &fleetv1.MetricsReport{
		Seq: 1, Host: &fleetv1.HostMetrics{CpuPercent: 42, MemoryUsedPercent: 40}, App: &fleetv1.AppMetrics{Requests: 10, Errors: 1},
	}}
	b, _ := proto.Marshal(n)
	if err := s.PutNodes(map[string][]byte{"n1": b}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(dir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.LoadNodes()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !proto.Equal(got[0], n) {
		t.Fatalf("loaded %v, want %v", got, n)
	}
}

func TestStoreLockedFailsFast(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	start := time.Now()
	_, err = Open(dir, 200*time.Millisecond)
	if !errors.Is(err, ErrDataDirLocked) {
		t.Fatalf("second open: got %v, want ErrDataDirLocked", err)
	}
	if waited := time.Since(start); waited > 5*time.Second {
		t.Fatalf("second open hung for %s", waited)
	}
}

func TestStoreCorrupt(t *testing.T) {
	tests := []struct {
		name string
		data []byte
	}{
		{"garbage", []byte("this is not a bbolt file at all, just text that someone wrote here")},
		{"zero page", make([]byte, 8192)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, FileName), tt.data, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Open(dir, time.Second)
			if !errors.Is(err, ErrCorruptStore) {
				t.Fatalf("got %v, want ErrCorruptStore", err)
			}
			after, _ := os.ReadFile(filepath.Join(dir, FileName))
			if string(after) != string(tt.data) {
				t.Fatal("opening a corrupt file changed it")
			}
		})
	}
}

func TestStoreSchemaTooNew(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	err = s.Update(func(tx *Tx) error {
		return tx.Bucket(Meta).Put(keySchemaVersion, binary.BigEndian.AppendUint64(nil, SchemaVersion+1))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, time.Second); !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("got %v, want ErrSchemaTooNew", err)
	}
}

// TestEachProtoNamesTheBadRecord: a record that does not decode is ErrCorruptStore naming what
// it is and its key, quoted when it is text and in hex when it is binary.
func TestEachProtoNamesTheBadRecord(t *testing.T) {
	s, err := Open(t.TempDir(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	bad := []byte{0xff, 0xff, 0xff}
	if err := s.PutNodes(map[string][]byte{"n1": bad}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutCommand([]byte{0x18, 0x01}, bad); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LoadNodes(); !errors.Is(err, ErrCorruptStore) || !strings.Contains(err.Error(), `node "n1"`) {
		t.Fatalf("LoadNodes = %v, want ErrCorruptStore naming node \"n1\"", err)
	}
	if _, err := s.LoadCommands(); !errors.Is(err, ErrCorruptStore) || !strings.Contains(err.Error(), "command 1801:") {
		t.Fatalf("LoadCommands = %v, want ErrCorruptStore naming command 1801", err)
	}
}

// TestDeleteHelpersDeleteEveryKeyTheyName: deleting while walking with a cursor skips the key
// after each deletion once the transaction has written to the page (bbolt issue 146), so the
// helpers collect the keys first. Each runs after a Put in the same transaction.
func TestDeleteHelpersDeleteEveryKeyTheyName(t *testing.T) {
	s, err := Open(t.TempDir(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	keys := func() []string {
		var out []string
		if err := s.View(func(tx *Tx) error {
			return tx.Bucket(Audit).ForEach(func(k, _ []byte) error { out = append(out, string(k)); return nil })
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	reset := func(tx *Tx) *Bucket {
		b, err := tx.Clear(Audit)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"a", "b", "c", "d", "e", "f"} {
			if err := b.Put([]byte(k), []byte{1}); err != nil {
				t.Fatal(err)
			}
		}
		return b
	}
	for _, tc := range []struct {
		name string
		del  func(b *Bucket) error
		want []string
	}{
		{"DeleteRange", func(b *Bucket) error { return b.DeleteRange([]byte("b"), []byte("e")) }, []string{"a", "e", "f"}},
		{"DeleteRange from the start", func(b *Bucket) error { return b.DeleteRange(nil, []byte("d")) }, []string{"d", "e", "f"}},
		{"DeleteFirst", func(b *Bucket) error { return b.DeleteFirst(4) }, []string{"e", "f"}},
		{"DeleteFunc", func(b *Bucket) error { return b.DeleteFunc(func(k []byte) bool { return k[0] != 'c' }) }, []string{"c"}},
		{"Len counts this transaction's writes", func(b *Bucket) error {
			if n := b.Len(); n != 6 {
				t.Errorf("Len = %d after six puts, want 6", n)
			}
			return nil
		}, []string{"a", "b", "c", "d", "e", "f"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.Update(func(tx *Tx) error { return tc.del(reset(tx)) }); err != nil {
				t.Fatal(err)
			}
			if got := keys(); !slices.Equal(got, tc.want) {
				t.Fatalf("keys left %q, want %q", got, tc.want)
			}
		})
	}
}

// TestPutNodesDeletesNilRecords: a nil record in a batch deletes its node, in the same
// transaction as the other records, and the deletion outlives a reopen.
func TestPutNodesDeletesNilRecords(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	enc := func(id string) []byte {
		b, err := proto.Marshal(&fleetv1.Node{Id: id})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if err := s.PutNodes(map[string][]byte{"a": enc("a"), "b": enc("b")}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutNodes(map[string][]byte{"a": nil, "c": enc("c"), "never-stored": nil}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = Open(dir, time.Second); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.LoadNodes()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, n := range got {
		ids = append(ids, n.GetId())
	}
	slices.Sort(ids)
	if !slices.Equal(ids, []string{"b", "c"}) {
		t.Fatalf("stored nodes %v, want [b c]", ids)
	}
}
