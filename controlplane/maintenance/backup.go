package maintenance

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dspyfleet/dspyfleet/controlplane/check"
	"github.com/dspyfleet/dspyfleet/controlplane/store"
	"github.com/dspyfleet/dspyfleet/pkg/maintenance"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// Backup files: fleet-<UTC time to the nanosecond>.db, with its metadata in <name>.json beside it.
const (
	backupPrefix  = "fleet-"
	backupExt     = ".db"
	backupMetaExt = ".json"
	backupTime    = "20060102T150405.000000000Z"
)

var backupNamePattern = regexp.MustCompile(`^fleet-[0-9]{8}T[0-9]{6}\.[0-9]{9}Z\.db$`)

// backupMeta is the JSON metadata written beside each backup.
type backupMeta struct {
	Name                string    `json:"name"`
	Created             time.Time `json:"created"`
	SizeBytes           int64     `json:"size_bytes"`
	SHA256              string    `json:"sha256"`
	SchemaVersion       uint64    `json:"schema_version"`
	ControlPlaneVersion string    `json:"control_plane_version"`
	Nodes               int       `json:"nodes"`
	Commands            int       `json:"commands"`
	RoutingPolicies     int       `json:"routing_policies"`
	Reason              string    `json:"reason"`
}

// Backups writes, lists, verifies and prunes hot backups of the store.
type Backups struct {
	store     *store.Store
	dir       string
	interval  time.Duration
	retention maintenance.Retention
	version   string
	now       func() time.Time
	log       *slog.Logger

	mu sync.Mutex // one backup at a time
}

// Run takes a scheduled backup every interval until ctx ends; a zero interval turns it off.
func (b *Backups) Run(ctx context.Context) error {
	if b.interval <= 0 {
		return nil
	}
	t := time.NewTicker(b.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if m, _, err := b.Create("scheduled"); err != nil {
				b.log.Error("scheduled backup failed; will try at the next interval", "err", err)
			} else {
				b.log.Info("scheduled backup written", "path", filepath.Join(b.dir, m.GetName()), "bytes", m.GetSizeBytes())
			}
		}
	}
}

// Create writes a consistent copy of the store from one read transaction, so writers go on
// meanwhile. The file is written under a temporary name, synced and renamed, so a backup name
// always holds a whole file. Then the retention runs; a retention that fails is logged, as the
// backup was written.
func (b *Backups) Create(reason string) (*fleetv1.Backup, []string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := os.MkdirAll(b.dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("create backup dir %s: %w", b.dir, err)
	}
	created := b.now().UTC()
	m := backupMeta{Name: backupPrefix + created.Format(backupTime) + backupExt, Created: created,
		SchemaVersion: store.SchemaVersion, ControlPlaneVersion: b.version, Reason: reason}
	final := filepath.Join(b.dir, m.Name)
	err := writeAtomic(final, func(w io.Writer) error {
		h := sha256.New()
		err := b.store.View(func(tx *store.Tx) error {
			m.Nodes = tx.Bucket(store.Nodes).Len()
			m.Commands = tx.Bucket(store.Commands).Len()
			m.RoutingPolicies = tx.Bucket(store.RoutingPolicies).Len()
			n, err := tx.WriteTo(io.MultiWriter(w, h))
			m.SizeBytes = n
			return err
		})
		m.SHA256 = hex.EncodeToString(h.Sum(nil))
		return err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("write backup %s: %w", final, err)
	}
	raw, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, nil, err
	}
	if err := writeAtomic(strings.TrimSuffix(final, backupExt)+backupMetaExt, func(w io.Writer) error {
		_, err := w.Write(append(raw, '\n'))
		return err
	}); err != nil {
		return nil, nil, fmt.Errorf("write backup metadata: %w", err)
	}
	pruned, err := b.prune()
	if err != nil {
		b.log.Warn("backup written but pruning old backups failed", "backup", m.Name, "err", err)
	}
	return m.toProto(b.dir), pruned, nil
}

// prune removes the backups the retention does not keep.
func (b *Backups) prune() ([]string, error) {
	metas, err := b.read()
	if err != nil {
		return nil, err
	}
	files := make([]maintenance.BackupFile, len(metas))
	for i, m := range metas {
		files[i] = maintenance.BackupFile{Name: m.Name, Created: m.Created}
	}
	var errs []error
	pruned := b.retention.Prune(files, b.now())
	for _, name := range pruned {
		base := filepath.Join(b.dir, name)
		for _, p := range []string{base, strings.TrimSuffix(base, backupExt) + backupMetaExt} {
			if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	return pruned, errors.Join(errs...)
}

// read returns the metadata of every backup in the directory, newest first. A backup whose
// metadata is missing or unreadable is listed from its file name and size.
func (b *Backups) read() ([]backupMeta, error) {
	entries, err := os.ReadDir(b.dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []backupMeta
	for _, e := range entries {
		if !backupNamePattern.MatchString(e.Name()) {
			continue
		}
		out = append(out, b.meta(e.Name()))
	}
	slices.SortFunc(out, func(x, y backupMeta) int {
		return cmp.Or(y.Created.Compare(x.Created), cmp.Compare(y.Name, x.Name))
	})
	return out, nil
}

// meta reads one backup's metadata, falling back to what the file name and size say.
func (b *Backups) meta(name string) backupMeta {
	base := filepath.Join(b.dir, name)
	var m backupMeta
	if raw, err := os.ReadFile(strings.TrimSuffix(base, backupExt) + backupMetaExt); err == nil && json.Unmarshal(raw, &m) == nil && m.Name == name {
		return m
	}
	m = backupMeta{Name: name, Reason: "metadata missing"}
	m.Created, _ = time.Parse(backupTime, strings.TrimSuffix(strings.TrimPrefix(name, backupPrefix), backupExt))
	if fi, err := os.Stat(base); err == nil {
		m.SizeBytes = fi.Size()
	}
	return m
}

// List returns every backup, newest first.
func (b *Backups) List() ([]*fleetv1.Backup, error) {
	metas, err := b.read()
	if err != nil {
		return nil, fmt.Errorf("read backup dir %s: %w", b.dir, err)
	}
	out := make([]*fleetv1.Backup, len(metas))
	for i, m := range metas {
		out[i] = m.toProto(b.dir)
	}
	return out, nil
}

// Verify checks the named backup against its recorded sha256 and size, then all of its content.
func (b *Backups) Verify(name string) (*fleetv1.Backup, error) {
	if !backupNamePattern.MatchString(name) {
		return nil, check.Invalidf("name: %q is not a backup name like fleet-20260102T030405.000000000Z.db; list them with fleetctl backup list", check.Truncate(name))
	}
	path := filepath.Join(b.dir, name)
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("%w: no backup %q in %s; list them with fleetctl backup list", check.ErrNotFound, name, b.dir)
	}
	m, err := readBackupMeta(path)
	if err != nil {
		return nil, err
	}
	if err := checkDigest(path, m.SizeBytes, m.SHA256); err != nil {
		return nil, err
	}
	c, err := store.Inspect(path)
	if err != nil {
		return nil, err
	}
	m.SchemaVersion, m.Nodes, m.Commands, m.RoutingPolicies = c.SchemaVersion, c.Nodes, c.Commands, c.RoutingPolicies
	return m.toProto(b.dir), nil
}

// readBackupMeta reads the metadata beside a backup file. The metadata is written after the file
// is in place, so a backup without it did not finish, and without its sha256 the file cannot be
// trusted.
func readBackupMeta(path string) (backupMeta, error) {
	metaPath := strings.TrimSuffix(path, backupExt) + backupMetaExt
	raw, err := os.ReadFile(metaPath)
	if err != nil {
		return backupMeta{}, fmt.Errorf("%w: %s has no readable metadata (%v): the backup did not finish or %s was not copied with it", store.ErrCorruptStore, path, err, filepath.Base(metaPath))
	}
	var m backupMeta
	if err := json.Unmarshal(raw, &m); err != nil || m.SHA256 == "" {
		return backupMeta{}, fmt.Errorf("%w: metadata %s is damaged: %v", store.ErrCorruptStore, metaPath, cmp.Or(err, errors.New("no sha256")))
	}
	return m, nil
}

// checkDigest compares a file's size and sha256 with the recorded ones.
func checkDigest(path string, size int64, sum string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return err
	}
	if n != size {
		return fmt.Errorf("%w: %s is %d bytes, its metadata says %d: the file is truncated or was changed", store.ErrCorruptStore, path, n, size)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sum {
		return fmt.Errorf("%w: %s has sha256 %s, its metadata says %s: the file was changed", store.ErrCorruptStore, path, got, sum)
	}
	return nil
}

func (m backupMeta) toProto(dir string) *fleetv1.Backup {
	return &fleetv1.Backup{
		Name: m.Name, Path: filepath.Join(dir, m.Name), Created: timestamppb.New(m.Created), SizeBytes: uint64(max(m.SizeBytes, 0)),
		Sha256: m.SHA256, SchemaVersion: m.SchemaVersion, ControlPlaneVersion: m.ControlPlaneVersion,
		Nodes: uint32(m.Nodes), Commands: uint32(m.Commands), RoutingPolicies: uint32(m.RoutingPolicies), Reason: m.Reason,
	}
}

// writeAtomic writes path through write into a temporary file in the same directory, syncs it,
// renames it over path and syncs the directory, so path holds either nothing or the whole file.
func writeAtomic(path string, write func(io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	if err = write(f); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// BackupConfig says where backups go, how often one is taken (0: only on request) and which
// are kept.
type BackupConfig struct {
	Dir       string
	Interval  time.Duration
	Retention maintenance.Retention
	Version   string // the control plane's version, recorded in each backup's metadata
}

// NewBackups configures the backups of st.
func NewBackups(st *store.Store, c BackupConfig, now func() time.Time, log *slog.Logger) *Backups {
	return &Backups{store: st, dir: c.Dir, interval: c.Interval, retention: c.Retention, version: c.Version, now: now, log: log}
}
