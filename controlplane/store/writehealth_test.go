package store

import (
	"errors"
	"testing"
	"time"
)

// TestUpdateCallerErrorIsNoWriteFailure: an error of the function given to Update is the
// caller's; the store can still write.
func TestUpdateCallerErrorIsNoWriteFailure(t *testing.T) {
	s, err := Open(t.TempDir(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	refused := errors.New("refused")
	if err := s.Update(func(*Tx) error { return refused }); !errors.Is(err, refused) {
		t.Fatalf("Update = %v, want the function's error", err)
	}
	if err := s.WriteErr(); err != nil || s.WriteFailures() != 0 {
		t.Errorf("after caller errors WriteErr = %v, WriteFailures = %d; want nil, 0", err, s.WriteFailures())
	}
}

// TestWriteHealth: failures keep when the run began and the newest error; a success clears them.
func TestWriteHealth(t *testing.T) {
	var h writeHealth
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	first, second := errors.New("no space"), errors.New("still no space")
	h.record(first, t0)
	h.record(second, t0.Add(time.Minute))
	got := h.last.Load()
	if got == nil || got.Err != second || !got.At.Equal(t0.Add(time.Minute)) || !got.Since.Equal(t0) {
		t.Fatalf("after two failures = %+v, want the second error at t0+1m since t0", got)
	}
	if want := "still no space (writes failing since 2026-01-02T03:04:05Z)"; got.Error() != want {
		t.Errorf("Error() = %q, want %q", got.Error(), want)
	}
	if !errors.Is(got, second) {
		t.Error("WriteError does not unwrap to the write's error")
	}
	h.record(nil, t0.Add(2*time.Minute))
	if h.last.Load() != nil || h.failures.Load() != 2 {
		t.Errorf("after a success last = %v, failures = %d; want nil, 2", h.last.Load(), h.failures.Load())
	}
	h.record(first, t0.Add(3*time.Minute))
	if got := h.last.Load(); got == nil || !got.Since.Equal(t0.Add(3*time.Minute)) {
		t.Errorf("a new run of failures = %+v, want it to begin at t0+3m", got)
	}
}
