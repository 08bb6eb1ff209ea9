package systemd

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestDBusReal reads the state of systemd-journald through the real system bus. It changes
// nothing on the host and runs only where systemd is PID 1.
func TestDBusReal(t *testing.T) {
	comm, err := os.ReadFile("/proc/1/comm")
	if err != nil || strings.TrimSpace(string(comm)) != "systemd" {
		t.Skipf("systemd is not PID 1 here (PID 1 is %q), so there is no systemd bus to talk to", strings.TrimSpace(string(comm)))
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	conn, err := DialDBus(ctx)
	if err != nil {
		t.Fatalf("DialDBus: %v", err)
	}
	defer conn.Close()

	const unit = "systemd-journald.service"
	names, err := conn.ListUnitsByPattern(ctx, []string{"systemd-journal*.service"})
	if err != nil {
		t.Fatalf("ListUnitsByPattern: %v", err)
	}
	if !slices.Contains(names, unit) {
		t.Errorf("ListUnitsByPattern = %q, want it to hold %s", names, unit)
	}
	active, sub, pid, err := conn.UnitState(ctx, unit)
	if err != nil {
		t.Fatalf("UnitState: %v", err)
	}
	if active != "active" || sub != "running" || pid <= 0 {
		t.Errorf("UnitState(%s) = %q, %q, %d; want active, running, a pid", unit, active, sub, pid)
	}

	m := newManager(t, Config{Unit: unit}, conn)
	if st := m.Status(); len(st) != 1 || st[0].PID != pid {
		t.Errorf("Status = %+v, want %s with pid %d", st, unit, pid)
	}
}
