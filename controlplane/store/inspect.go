package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// schema1Buckets are the buckets a schema-1 state file is sure to have (see createAllBuckets);
// a file of a later schema has every bucket of allBuckets.
var schema1Buckets = [][]byte{Meta, Nodes, Commands, Rollups}

// bucketSince is the schema that added each bucket added after schema 2; a file of an older
// schema lacks it until migrated.
var bucketSince = map[string]uint64{string(NodeBindings): 3}

// requiredBuckets returns the buckets a state file of schema version must have.
func requiredBuckets(version uint64) [][]byte {
	if version < 2 {
		return schema1Buckets
	}
	var out [][]byte
	for _, name := range allBuckets {
		if since, ok := bucketSince[string(name)]; !ok || since <= version {
			out = append(out, name)
		}
	}
	return out
}

// Counts are the records a state file holds.
type backupCounts struct {
	SchemaVersion                    uint64
	Nodes, Commands, RoutingPolicies int
}

// bbolt's on-disk meta page: a 16-byte page header, then magic, version, page size, flags (4
// bytes each), the root bucket (16), the freelist page, the high-water page, the txid and an
// FNV-64a checksum of everything before it (8 each).
const (
	boltPageHeader   = 16
	boltMetaSize     = 64
	boltMagic        = 0xED0CDAED
	boltMetaChecksum = 56
	boltMetaPgid     = 40
	boltMetaTxid     = 48
)

// CheckFile reads the two meta pages of a bbolt file and refuses a file that is not bbolt or
// that is shorter than its newest valid meta page says. bbolt maps the file into memory and would
// fault on the missing pages of a truncated file, so this runs before bolt.Open.
func checkBoltFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	size := fi.Size()
	first := make([]byte, boltPageHeader+boltMetaSize)
	if _, err := io.ReadFull(f, first); err != nil {
		return fmt.Errorf("%w: %s is %d bytes, too short for a bbolt file", ErrCorruptStore, path, size)
	}
	pageSize := int64(binary.NativeEndian.Uint32(first[boltPageHeader+8:]))
	if pageSize < 512 || pageSize > 1<<20 || pageSize&(pageSize-1) != 0 {
		return fmt.Errorf("%w: %s is not a bbolt file (page size %d)", ErrCorruptStore, path, pageSize)
	}
	var best []byte
	for i := range int64(2) {
		buf := make([]byte, boltMetaSize)
		if _, err := f.ReadAt(buf, i*pageSize+boltPageHeader); err != nil {
			continue
		}
		if binary.NativeEndian.Uint32(buf) != boltMagic {
			continue
		}
		h := fnv.New64a()
		_, _ = h.Write(buf[:boltMetaChecksum])
		if h.Sum64() != binary.NativeEndian.Uint64(buf[boltMetaChecksum:]) {
			continue
		}
		if best == nil || binary.NativeEndian.Uint64(buf[boltMetaTxid:]) > binary.NativeEndian.Uint64(best[boltMetaTxid:]) {
			best = buf
		}
	}
	if best == nil {
		return fmt.Errorf("%w: %s has no valid bbolt meta page", ErrCorruptStore, path)
	}
	if need := int64(binary.NativeEndian.Uint64(best[boltMetaPgid:])) * pageSize; size < need {
		return fmt.Errorf("%w: %s is %d bytes but its data reaches %d bytes: the file is truncated", ErrCorruptStore, path, size, need)
	}
	return nil
}

// Inspect opens a state file read-only and checks all of it: the bbolt structure, the
// schema version, the buckets every state file has, and that every node, command and routing policy
// decodes. It returns what the file holds.
//
// bbolt trusts its pages: a damaged page can crash the reading process. So only a file whose
// sha256 matched its recorded one is given to it (the callers check that first), and the meta
// pages and the file length are checked before it is opened.
func Inspect(path string) (c backupCounts, err error) {
	if err := checkBoltFile(path); err != nil {
		return c, err
	}
	db, err := bolt.Open(path, 0o400, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return c, fmt.Errorf("%w: open %s: %v", ErrCorruptStore, path, err)
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		var errs []error
		for err := range tx.Check() {
			errs = append(errs, err)
		}
		if len(errs) > 0 {
			return fmt.Errorf("%w: %s fails the bbolt consistency check: %v", ErrCorruptStore, path, errors.Join(errs...))
		}
		meta := tx.Bucket(Meta)
		if meta == nil {
			return fmt.Errorf("%w: %s has no meta bucket", ErrCorruptStore, path)
		}
		raw := meta.Get(keySchemaVersion)
		if len(raw) != 8 {
			return fmt.Errorf("%w: %s has no valid schema version", ErrCorruptStore, path)
		}
		c.SchemaVersion = binary.BigEndian.Uint64(raw)
		if c.SchemaVersion > SchemaVersion {
			return fmt.Errorf("%w: %s has schema %d, this build knows up to %d", ErrSchemaTooNew, path, c.SchemaVersion, SchemaVersion)
		}
		for _, name := range requiredBuckets(c.SchemaVersion) {
			if tx.Bucket(name) == nil {
				return fmt.Errorf("%w: %s has no %s bucket", ErrCorruptStore, path, name)
			}
		}
		decode := func(bucket []byte, what string, n *int, msg func() proto.Message) error {
			b := tx.Bucket(bucket)
			if b == nil {
				return nil
			}
			return b.ForEach(func(k, v []byte) error {
				if err := proto.Unmarshal(v, msg()); err != nil {
					return fmt.Errorf("%w: %s: %s %q does not decode: %v", ErrCorruptStore, path, what, k, err)
				}
				*n++
				return nil
			})
		}
		return errors.Join(
			decode(Nodes, "node", &c.Nodes, func() proto.Message { return &fleetv1.Node{} }),
			decode(Commands, "command", &c.Commands, func() proto.Message { return &fleetv1.CommandRecord{} }),
			decode(RoutingPolicies, "routing policy", &c.RoutingPolicies, func() proto.Message { return &fleetv1.RoutingPolicy{} }),
		)
	})
	return c, err
}
