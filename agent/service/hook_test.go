package service

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestHookRun(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "ran")
	ok := Hook{Command: []string{"/bin/sh", "-c", "echo rotating; touch " + marker}}
	res, err := ok.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Fatal("the hook did not run")
	}
	if !strings.Contains(res.Fields["output_tail"], "rotating") || res.Fields["exit_status"] == "" {
		t.Fatalf("result %+v", res)
	}

	res, err = Hook{Command: []string{"/bin/sh", "-c", "echo broken >&2; exit 3"}}.Run(context.Background())
	if !errors.Is(err, ErrHookFailed) || !strings.Contains(err.Error(), "broken") || !strings.Contains(res.Detail, "ended with") {
		t.Fatalf("failing hook: %+v, %v", res, err)
	}

	start := time.Now()
	_, err = Hook{Command: []string{"/bin/sh", "-c", "sleep 30"}, Timeout: 200 * time.Millisecond}.Run(context.Background())
	if !errors.Is(err, ErrHookFailed) || !strings.Contains(err.Error(), "timed out") || time.Since(start) > 10*time.Second {
		t.Fatalf("slow hook: %v after %s", err, time.Since(start))
	}

	if _, err := (Hook{}).Run(context.Background()); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("empty hook: %v", err)
	}
}
