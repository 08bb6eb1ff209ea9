package store

import (
	"encoding/binary"
	"fmt"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"
)

// keySchemaHistory in meta holds one line per migration applied to the file: the schema it
// reached, when (UTC, RFC 3339) and what it changed.
var keySchemaHistory = []byte("schema_history")

// migration turns a file of schema to-1 into one of schema to.
type migration struct {
	to   uint64
	what string
	run  func(tx *bolt.Tx) error
}

// migrations are the schema's steps in order; SchemaVersion is the last one's to.
var migrations = []migration{
	{to: 2, what: "every bucket of the schema exists in the file", run: createAllBuckets},
	{to: 3, what: "the node_bindings bucket exists", run: createBucket(NodeBindings)},
}

// createBucket returns a step that creates the bucket name.
func createBucket(name []byte) func(tx *bolt.Tx) error {
	return func(tx *bolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
		return nil
	}
}

// createAllBuckets creates the buckets a schema-1 file may lack: schema 1 created buckets added
// after its release when a control plane first opened the file, so only meta, nodes, commands
// and rollups were sure to be there. From schema 2 on every bucket is.
func createAllBuckets(tx *bolt.Tx) error {
	for _, name := range allBuckets {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	return nil
}

// migrate brings a file of schema from up to SchemaVersion. It first writes a consistent copy of
// the file to <path>.pre-migrate-v<from> (kept: a failed or unwanted migration is undone by
// putting it back), then runs every step in one transaction, so a crash midway leaves the old
// file as it was.
func (s *Store) migrate(from uint64) error {
	backup := fmt.Sprintf("%s.pre-migrate-v%d", s.path, from)
	if err := s.copyTo(backup); err != nil {
		return fmt.Errorf("keep a copy of %s before migrating it from schema %d: %w", s.path, from, err)
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		for _, m := range migrations {
			if m.to <= from {
				continue
			}
			if err := m.run(tx); err != nil {
				return fmt.Errorf("migrate %s to schema %d (%s): %w; the file is unchanged, its copy is %s", s.path, m.to, m.what, err, backup)
			}
			meta := tx.Bucket(Meta)
			entry := fmt.Sprintf("%d %s %s\n", m.to, time.Now().UTC().Format(time.RFC3339), m.what)
			if err := meta.Put(keySchemaHistory, append(append([]byte(nil), meta.Get(keySchemaHistory)...), entry...)); err != nil {
				return err
			}
		}
		return tx.Bucket(Meta).Put(keySchemaVersion, binary.BigEndian.AppendUint64(nil, SchemaVersion))
	})
}

// copyTo writes a consistent copy of the file to path, synced.
func (s *Store) copyTo(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	err = s.db.View(func(tx *bolt.Tx) error {
		_, err := tx.WriteTo(f)
		return err
	})
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
