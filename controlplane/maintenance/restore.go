package maintenance

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/dspyfleet/dspyfleet/controlplane/store"
)

// RestoreResult says what a restore did.
type RestoreResult struct {
	// Path is the restored state file.
	Path string
	// Previous is where the state file it replaced was kept; empty when there was none.
	Previous string
	// SchemaVersion, Nodes, Commands and RoutingPolicies describe the restored state.
	SchemaVersion                    uint64
	Nodes, Commands, RoutingPolicies int
}

// Restore replaces <dataDir>/fleet.db with the backup at from, offline. The backup's metadata
// (<name>.json) must be beside it. It refuses a backup that fails verification (missing
// metadata, a size or sha256 other than recorded, a damaged structure, or a newer schema) and a data directory a running control plane holds; the current file is kept aside as
// fleet.db.pre-restore-<time>, never deleted.
func Restore(from, dataDir string, lockTimeout time.Duration, now time.Time) (RestoreResult, error) {
	if from == "" {
		return RestoreResult{}, errors.New("--from is empty: give the backup file to restore")
	}
	if dataDir == "" {
		return RestoreResult{}, errors.New("--data-dir is empty")
	}
	meta, err := readBackupMeta(from)
	if err != nil {
		return RestoreResult{}, fmt.Errorf("refusing to restore: %w", err)
	}
	if err := checkDigest(from, meta.SizeBytes, meta.SHA256); err != nil {
		return RestoreResult{}, fmt.Errorf("refusing to restore: %w", err)
	}
	c, err := store.Inspect(from)
	if err != nil {
		return RestoreResult{}, fmt.Errorf("refusing to restore: %w", err)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return RestoreResult{}, fmt.Errorf("create data dir %s: %w", dataDir, err)
	}
	path := filepath.Join(dataDir, store.FileName)
	res := RestoreResult{Path: path, SchemaVersion: c.SchemaVersion, Nodes: c.Nodes, Commands: c.Commands, RoutingPolicies: c.RoutingPolicies}
	if _, err := os.Stat(path); err == nil {
		// A read-only open takes a shared lock: it fails while a control plane holds the file,
		// and holding it keeps one from starting until the new file is in place.
		release, err := store.HoldShared(path, lockTimeout)
		if errors.Is(err, store.ErrDataDirLocked) {
			return RestoreResult{}, fmt.Errorf("%w: %s is locked; stop the control plane using --data-dir %s before restoring", store.ErrDataDirLocked, path, dataDir)
		}
		if err == nil {
			defer release()
		}
		res.Previous = path + ".pre-restore-" + now.UTC().Format(backupTime)
	}
	tmp := path + ".restoring"
	if err := writeAtomic(tmp, func(w io.Writer) error {
		f, err := os.Open(from)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(w, f)
		return err
	}); err != nil {
		return RestoreResult{}, fmt.Errorf("copy %s into %s: %w", from, dataDir, err)
	}
	if res.Previous != "" {
		if err := os.Rename(path, res.Previous); err != nil {
			_ = os.Remove(tmp)
			return RestoreResult{}, fmt.Errorf("keep the current state aside: %w", err)
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		return RestoreResult{}, fmt.Errorf("put the restored state in place (the previous one is %s): %w", res.Previous, err)
	}
	return res, syncDir(dataDir)
}
