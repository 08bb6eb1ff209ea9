package store

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
)

// Tx is a read or write transaction on the store. It is valid only inside the function given to
// View, Update or Batch; bytes read from it must be copied before that function returns.
type Tx bolt.Tx

// Bucket is one bucket of a transaction.
type Bucket bolt.Bucket

// Cursor walks a bucket's keys in byte order.
type Cursor bolt.Cursor

// View runs fn in a read-only transaction.
func (s *Store) View(fn func(*Tx) error) error {
	return s.db.View(func(tx *bolt.Tx) error { return fn((*Tx)(tx)) })
}

// Update runs fn in a read-write transaction and commits it when fn returns nil. It is the
// store's one write path: concurrent callers share a transaction and its fsync (bbolt's Batch),
// so fn may run more than once and must have no effect but on the transaction (it may read the
// transaction's state and overwrite variables it returns through, never append to them). A
// batch may run fn on another caller's goroutine while its own caller waits, so fn must not take
// a lock that a caller of Update may hold. A commit that fails is recorded (see WriteErr) until
// the next one succeeds.
func (s *Store) Update(fn func(*Tx) error) error {
	// fnFailed is the outcome of fn's last run, the one whose result Batch returns: an error
	// with fnFailed false is the commit's.
	var fnFailed bool
	err := s.db.Batch(func(tx *bolt.Tx) error {
		fnFailed = true // stays so when fn panics in a batch, which Batch returns as an error
		ferr := fn((*Tx)(tx))
		fnFailed = ferr != nil
		return ferr
	})
	if err == nil || !fnFailed {
		s.health.record(err, time.Now())
	}
	return err
}

// Bucket returns the named bucket, or nil when the file has none of that name.
func (tx *Tx) Bucket(name []byte) *Bucket {
	return (*Bucket)((*bolt.Tx)(tx).Bucket(name))
}

// Clear empties the named bucket and returns it.
func (tx *Tx) Clear(name []byte) (*Bucket, error) {
	btx := (*bolt.Tx)(tx)
	if err := btx.DeleteBucket(name); err != nil && !errors.Is(err, bolt.ErrBucketNotFound) {
		return nil, err
	}
	b, err := btx.CreateBucket(name)
	return (*Bucket)(b), err
}

// Size is the size of the database file as this transaction sees it.
func (tx *Tx) Size() int64 { return (*bolt.Tx)(tx).Size() }

// WriteTo writes a consistent copy of the whole file as this transaction sees it.
func (tx *Tx) WriteTo(w io.Writer) (int64, error) { return (*bolt.Tx)(tx).WriteTo(w) }

// Get returns the value of key, or nil; it is valid only inside the transaction.
func (b *Bucket) Get(key []byte) []byte { return (*bolt.Bucket)(b).Get(key) }

// Put sets key to value.
func (b *Bucket) Put(key, value []byte) error { return (*bolt.Bucket)(b).Put(key, value) }

// Delete removes key; a missing key is no error.
func (b *Bucket) Delete(key []byte) error { return (*bolt.Bucket)(b).Delete(key) }

// ForEach calls fn for every key in order; an error from fn stops the walk and is returned.
func (b *Bucket) ForEach(fn func(k, v []byte) error) error { return (*bolt.Bucket)(b).ForEach(fn) }

// Len is the number of keys in the bucket, this transaction's writes included (bbolt's
// Stats().KeyN counts only what was committed before).
func (b *Bucket) Len() int {
	n := 0
	c := b.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		n++
	}
	return n
}

// DeleteRange deletes the keys in [from, to); a nil from is the first key.
func (b *Bucket) DeleteRange(from, to []byte) error {
	var keys [][]byte
	c := b.Cursor()
	for k, _ := c.Seek(from); k != nil && bytes.Compare(k, to) < 0; k, _ = c.Next() {
		keys = append(keys, bytes.Clone(k))
	}
	return b.deleteKeys(keys)
}

// DeleteFirst deletes the n first keys (the oldest, for time-ordered keys).
func (b *Bucket) DeleteFirst(n int) error {
	var keys [][]byte
	c := b.Cursor()
	for k, _ := c.First(); k != nil && len(keys) < n; k, _ = c.Next() {
		keys = append(keys, bytes.Clone(k))
	}
	return b.deleteKeys(keys)
}

// DeleteFunc deletes every key for which del is true.
func (b *Bucket) DeleteFunc(del func(k []byte) bool) error {
	var keys [][]byte
	c := b.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		if del(k) {
			keys = append(keys, bytes.Clone(k))
		}
	}
	return b.deleteKeys(keys)
}

// deleteKeys deletes keys collected by a walk: deleting during a cursor walk skips the key after
// each deletion once the transaction wrote to the page (bbolt issue 146).
func (b *Bucket) deleteKeys(keys [][]byte) error {
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// Cursor returns a cursor over the bucket.
func (b *Bucket) Cursor() *Cursor { return (*Cursor)((*bolt.Bucket)(b).Cursor()) }

// First moves to the first key.
func (c *Cursor) First() (k, v []byte) { return (*bolt.Cursor)(c).First() }

// Last moves to the last key.
func (c *Cursor) Last() (k, v []byte) { return (*bolt.Cursor)(c).Last() }

// Next moves to the next key.
func (c *Cursor) Next() (k, v []byte) { return (*bolt.Cursor)(c).Next() }

// Prev moves to the previous key.
func (c *Cursor) Prev() (k, v []byte) { return (*bolt.Cursor)(c).Prev() }

// Seek moves to key, or to the first key after it.
func (c *Cursor) Seek(key []byte) (k, v []byte) { return (*bolt.Cursor)(c).Seek(key) }

// Delete removes the key under the cursor.
func (c *Cursor) Delete() error { return (*bolt.Cursor)(c).Delete() }

// EachProto decodes every record of b into a new message and calls fn with its key, in key
// order. A record that does not decode is ErrCorruptStore naming what it is (a "node", a
// "budget") and its key; an error from fn stops the walk and is returned.
func EachProto[T any, M interface {
	*T
	proto.Message
}](b *Bucket, what string, fn func(k []byte, m M) error) error {
	return b.ForEach(func(k, v []byte) error {
		m := M(new(T))
		if err := proto.Unmarshal(v, m); err != nil {
			return fmt.Errorf("%w: %s %s: %v", ErrCorruptStore, what, keyText(k), err)
		}
		return fn(k, m)
	})
}

// Collect returns an EachProto callback that appends every message to dst.
func Collect[M any](dst *[]M) func([]byte, M) error {
	return func(_ []byte, m M) error {
		*dst = append(*dst, m)
		return nil
	}
}

// keyText shows a key in an error: quoted when it is printable text (a node id, a pool), in hex
// when it is binary (a time-ordered id).
func keyText(k []byte) string {
	if utf8.Valid(k) && !slices.ContainsFunc([]rune(string(k)), func(r rune) bool { return !unicode.IsPrint(r) }) {
		return strconv.Quote(string(k))
	}
	return hex.EncodeToString(k)
}
