package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"

	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// FileName is the bbolt file inside the data directory.
const FileName = "fleet.db"

// ErrDataDirLocked means another process holds the bbolt file lock.
var ErrDataDirLocked = errors.New("data directory is in use by another control plane")

// ErrCorrupt means the bbolt file cannot be read as a dspyfleet database.
var ErrCorruptStore = errors.New("data file is corrupt or not a dspyfleet database")

// ErrSchemaTooNew means the file was written by a newer control plane.
var ErrSchemaTooNew = errors.New("data file has a newer schema than this control plane")

// Store is the bbolt-backed persistence of the control plane.
type Store struct {
	db     *bolt.DB
	path   string
	health writeHealth
}

// Path is the file's path.
func (s *Store) Path() string { return s.path }

// Open opens (or creates) <dir>/fleet.db, failing fast when another process holds it.
func Open(dir string, lockTimeout time.Duration) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir %s: %w", dir, err)
	}
	path := filepath.Join(dir, FileName)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: lockTimeout})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("%w: %s is locked (waited %s); stop the other process or use another --data-dir", ErrDataDirLocked, path, lockTimeout)
		}
		if errors.Is(err, os.ErrPermission) {
			return nil, fmt.Errorf("open %s: %w", path, err)
		}
		return nil, fmt.Errorf("%w: %s: %v; move it aside and restore from a backup", ErrCorruptStore, path, err)
	}
	// Writes go through Batch (see Update): concurrent callers share one fsync, and a lone
	// caller waits at most this long for company.
	db.MaxBatchDelay = time.Millisecond
	s := &Store{db: db, path: path}
	if err := s.ensureSchema(); err != nil {
		_ = db.Close()
		return nil, err
	}
	return s, nil
}

// HoldShared takes a shared lock on the state file at path by opening it read-only: it fails with
// ErrDataDirLocked while a control plane holds the file, and while held it keeps one from
// starting. release gives the lock back.
func HoldShared(path string, lockTimeout time.Duration) (release func(), err error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: lockTimeout})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("%w: %s is locked (waited %s)", ErrDataDirLocked, path, lockTimeout)
	}
	if err != nil {
		return nil, err
	}
	return func() { _ = db.Close() }, nil
}

// ensureSchema creates the buckets of a new file, refuses a file of a newer schema, and migrates
// a file of an older one (after keeping a copy of it, see migrate).
func (s *Store) ensureSchema() error {
	var from uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		v, err := fileVersion(tx, s.path)
		from = v
		return err
	})
	if err != nil {
		return err
	}
	if from != 0 && from < SchemaVersion {
		return s.migrate(from)
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		for _, name := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return tx.Bucket(Meta).Put(keySchemaVersion, binary.BigEndian.AppendUint64(nil, SchemaVersion))
	})
}

// fileVersion returns the schema version of the file, 0 for a new (empty) file.
func fileVersion(tx *bolt.Tx, path string) (uint64, error) {
	meta := tx.Bucket(Meta)
	if meta == nil {
		if firstBucket(tx) != nil {
			return 0, fmt.Errorf("%w: %s has buckets but no meta bucket", ErrCorruptStore, path)
		}
		return 0, nil
	}
	raw := meta.Get(keySchemaVersion)
	if len(raw) != 8 || binary.BigEndian.Uint64(raw) == 0 {
		return 0, fmt.Errorf("%w: %s has no valid schema version", ErrCorruptStore, path)
	}
	v := binary.BigEndian.Uint64(raw)
	if v > SchemaVersion {
		return 0, fmt.Errorf("%w: %s has schema %d, this build knows up to %d; run a newer control plane", ErrSchemaTooNew, path, v, SchemaVersion)
	}
	return v, nil
}

// firstBucket returns the name of any top-level bucket, or nil for an empty file.
func firstBucket(tx *bolt.Tx) []byte {
	c := tx.Cursor()
	k, _ := c.First()
	return k
}

// LoadNodes reads every stored node.
func (s *Store) LoadNodes() ([]*fleetv1.Node, error) {
	var nodes []*fleetv1.Node
	err := s.View(func(tx *Tx) error {
		return EachProto(tx.Bucket(Nodes), "node", Collect(&nodes))
	})
	return nodes, err
}

// PutNodes writes encoded node records in one transaction; a nil record deletes its node (the
// registry forgot it).
func (s *Store) PutNodes(records map[string][]byte) error {
	if len(records) == 0 {
		return nil
	}
	return s.Update(func(tx *Tx) error {
		b := tx.Bucket(Nodes)
		for id, rec := range records {
			var err error
			if rec == nil {
				err = b.Delete([]byte(id))
			} else {
				err = b.Put([]byte(id), rec)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// LoadCommands reads every stored command record.
func (s *Store) LoadCommands() ([]*fleetv1.CommandRecord, error) {
	var out []*fleetv1.CommandRecord
	err := s.View(func(tx *Tx) error {
		return EachProto(tx.Bucket(Commands), "command", Collect(&out))
	})
	return out, err
}

// PutCommand durably writes one command record before the call returns. Concurrent callers are
// grouped into one transaction (see Update), so a burst of updates costs one fsync.
func (s *Store) PutCommand(key, rec []byte) error {
	return s.Update(func(tx *Tx) error {
		return tx.Bucket(Commands).Put(key, rec)
	})
}

// DeleteCommands removes command records.
func (s *Store) DeleteCommands(keys [][]byte) error {
	if len(keys) == 0 {
		return nil
	}
	return s.Update(func(tx *Tx) error {
		b := tx.Bucket(Commands)
		for _, k := range keys {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
}

// Close closes the bbolt file.
func (s *Store) Close() error { return s.db.Close() }

// NoSyncForTest turns off fsync on commit, for benchmarks and tests that write a lot.
func (s *Store) NoSyncForTest() { s.db.NoSync = true }
