package maintenance

import (
	"slices"
	"testing"
	"time"
)

func TestRetentionPrune(t *testing.T) {
	now := time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	files := []BackupFile{
		{"b1", now.Add(-9 * day)},
		{"b3", now.Add(-2 * day)},
		{"b2", now.Add(-5 * day)},
		{"b4", now.Add(-time.Hour)},
	}
	tests := []struct {
		name  string
		r     Retention
		files []BackupFile
		want  []string
	}{
		{"no limits keeps all", Retention{}, files, nil},
		{"keep 2 removes the two oldest, oldest first", Retention{Keep: 2}, files, []string{"b1", "b2"}},
		{"keep more than there are", Retention{Keep: 10}, files, nil},
		{"max age 3 days", Retention{MaxAge: 3 * day}, files, []string{"b1", "b2"}},
		{"both limits", Retention{Keep: 3, MaxAge: 6 * day}, files, []string{"b1"}},
		{"newest kept even when too old", Retention{Keep: 1, MaxAge: time.Hour}, []BackupFile{{"old", now.Add(-30 * day)}, {"older", now.Add(-31 * day)}}, []string{"older"}},
		{"same time ordered by name", Retention{Keep: 1}, []BackupFile{{"a", now}, {"b", now}}, []string{"a"}},
		{"empty", Retention{Keep: 1}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.r.Prune(tt.files, now)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("Prune = %v, want %v", got, tt.want)
			}
		})
	}
}
