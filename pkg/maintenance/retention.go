package maintenance

import (
	"cmp"
	"slices"
	"time"
)

// BackupFile is one stored backup as the retention sees it.
type BackupFile struct {
	Name    string
	Created time.Time
}

// Retention says which backups to keep: the newest Keep of them, and none older than MaxAge.
// The newest backup is always kept, whatever its age, so a fleet whose backups stopped still has
// its last one. Zero Keep or zero MaxAge turns that limit off.
type Retention struct {
	Keep   int
	MaxAge time.Duration
}

// Prune returns the names of the backups r removes at now, oldest first.
func (r Retention) Prune(files []BackupFile, now time.Time) []string {
	sorted := slices.Clone(files)
	slices.SortStableFunc(sorted, func(a, b BackupFile) int {
		return cmp.Or(b.Created.Compare(a.Created), cmp.Compare(b.Name, a.Name))
	})
	var out []string
	for i, f := range sorted {
		if i == 0 {
			continue
		}
		tooMany := r.Keep > 0 && i >= r.Keep
		tooOld := r.MaxAge > 0 && now.Sub(f.Created) > r.MaxAge
		if tooMany || tooOld {
			out = append(out, f.Name)
		}
	}
	slices.Reverse(out)
	return out
}
