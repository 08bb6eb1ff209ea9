package store

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestMigrateSchema1File opens testdata/v1-fleet.db, a state file the schema-1 control plane
// wrote in --dev mode (a node, a drain and undrain, a routing policy, a command, rollups), and
// checks that Open migrates it: a copy of the old file is kept, the file is at SchemaVersion with
// every bucket, and every record it held is still there.
func TestMigrateSchema1File(t *testing.T) {
	dir := t.TempDir()
	old, err := os.ReadFile(filepath.Join("testdata", "v1-fleet.db"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, FileName)
	if err := os.WriteFile(path, old, 0o600); err != nil {
		t.Fatal(err)
	}
	before, err := Inspect(path)
	if err != nil {
		t.Fatal(err)
	}
	if before.SchemaVersion != 1 || before.Nodes == 0 || before.Commands == 0 || before.RoutingPolicies == 0 {
		t.Fatalf("the schema-1 fixture holds %+v; want schema 1 with nodes, commands and a routing policy", before)
	}

	s, err := Open(dir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	after, err := Inspect(path)
	if err != nil {
		t.Fatal(err)
	}
	if after.SchemaVersion != SchemaVersion || after.Nodes != before.Nodes || after.Commands != before.Commands || after.RoutingPolicies != before.RoutingPolicies {
		t.Fatalf("after migration %+v, before %+v", after, before)
	}
	if m := missingBuckets(t, path); len(m) != 0 {
		t.Fatalf("buckets still missing after migration: %q", m)
	}
	if h := strings.Split(history(t, path), "\n"); len(h) != 3 || !strings.HasPrefix(h[0], "2 ") || !strings.Contains(h[0], "every bucket") ||
		!strings.HasPrefix(h[1], "3 ") || !strings.Contains(h[1], "node_bindings") {
		t.Fatalf("schema history %q, want the migrations to schema 2 and 3", h)
	}
	kept, err := Inspect(path + ".pre-migrate-v1")
	if err != nil {
		t.Fatalf("the copy kept before migrating: %v", err)
	}
	if kept != before {
		t.Fatalf("the kept copy holds %+v, the file held %+v", kept, before)
	}

	// A second open finds nothing to migrate and leaves the kept copy alone.
	if err := os.Remove(path + ".pre-migrate-v1"); err != nil {
		t.Fatal(err)
	}
	s, err = Open(dir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + ".pre-migrate-v1"); !os.IsNotExist(err) {
		t.Fatalf("a file already at schema %d was copied again: %v", SchemaVersion, err)
	}
}

// TestMigrateSchema2File: a schema-2 file (made here from a new file: no node_bindings bucket,
// version 2) is migrated to schema 3 with the bucket, its nodes kept and a copy of it kept.
func TestMigrateSchema2File(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutNodes(map[string][]byte{"n1": {0x0a, 0x02, 'n', '1'}}); err != nil { // Node{id: "n1"}; a nil record deletes
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, FileName)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket(NodeBindings); err != nil {
			return err
		}
		return tx.Bucket(Meta).Put(keySchemaVersion, []byte{0, 0, 0, 0, 0, 0, 0, 2})
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}

	if s, err = Open(dir, time.Second); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	after, err := Inspect(path)
	if err != nil {
		t.Fatal(err)
	}
	if after.SchemaVersion != 3 || after.Nodes != 1 {
		t.Fatalf("after migration %+v, want schema 3 with the node", after)
	}
	if m := missingBuckets(t, path); len(m) != 0 {
		t.Fatalf("buckets missing after migration: %q", m)
	}
	if h := history(t, path); !strings.HasPrefix(h, "3 ") || !strings.Contains(h, "node_bindings") {
		t.Fatalf("schema history %q, want the migration to schema 3", h)
	}
	if kept, err := Inspect(path + ".pre-migrate-v2"); err != nil || kept.SchemaVersion != 2 {
		t.Fatalf("the copy kept before migrating: %+v, %v", kept, err)
	}
}

// missingBuckets lists the schema's buckets the file at path lacks.
func missingBuckets(t *testing.T, path string) []string {
	var missing []string
	viewFile(t, path, func(tx *bolt.Tx) {
		for _, name := range allBuckets {
			if tx.Bucket(name) == nil {
				missing = append(missing, string(name))
			}
		}
	})
	return missing
}

// history returns the file's schema history.
func history(t *testing.T, path string) string {
	var h string
	viewFile(t, path, func(tx *bolt.Tx) { h = string(tx.Bucket(Meta).Get(keySchemaHistory)) })
	return h
}

// viewFile runs fn in a read transaction on the closed state file at path.
func viewFile(t *testing.T, path string, fn func(*bolt.Tx)) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.View(func(tx *bolt.Tx) error { fn(tx); return nil }); err != nil {
		t.Fatal(err)
	}
}
