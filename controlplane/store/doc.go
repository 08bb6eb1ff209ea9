// Package store owns the control plane's bbolt file, <data-dir>/fleet.db: the list of buckets and
// their layout (schema.go), the schema version and its migrations, the one write path (Update for
// a transaction of its own, Batch for writes that share one fsync), hot backups and the checks a
// state file passes before it is opened or restored. It is the only package that imports bbolt:
// subsystems read and write their buckets through Tx, Bucket and Cursor, and keep their own
// encodings.
package store
