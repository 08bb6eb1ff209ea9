package fleettest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// JournalRemote is where systemd-journal-remote lives on Debian (package
// systemd-journal-remote, installed by .ci/run).
const JournalRemote = "/lib/systemd/systemd-journal-remote"

// Journal is a real journal in a temporary directory, written with systemd-journal-remote
// and read with journalctl --directory.
type Journal struct {
	// Dir is the directory to pass to journalctl --directory.
	Dir  string
	boot string
}

// NewJournal returns an empty journal directory.
func NewJournal(t testing.TB) *Journal {
	t.Helper()
	for _, bin := range []string{JournalRemote, "journalctl"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("%s is needed for journal tests (apt-get install systemd-journal-remote): %v", bin, err)
		}
	}
	boot, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		t.Fatal(err)
	}
	// journalctl --follow reads the current boot only, so the entries carry its id.
	return &Journal{Dir: t.TempDir(), boot: strings.ReplaceAll(strings.TrimSpace(string(boot)), "-", "")}
}

// Append writes entries, each a map of journal fields (MESSAGE, PRIORITY, _SYSTEMD_UNIT,
// SYSLOG_IDENTIFIER …), in journal export format; the timestamps and boot id are added.
func (j *Journal) Append(t testing.TB, entries ...map[string]string) {
	t.Helper()
	var b strings.Builder
	for _, e := range entries {
		fmt.Fprintf(&b, "__REALTIME_TIMESTAMP=%d\n__MONOTONIC_TIMESTAMP=%d\n_BOOT_ID=%s\n",
			time.Now().UnixMicro(), time.Now().UnixMicro(), j.boot)
		for k, v := range e {
			fmt.Fprintf(&b, "%s=%s\n", k, v)
		}
		b.WriteString("\n")
	}
	cmd := exec.Command(JournalRemote, "--output="+filepath.Join(j.Dir, "remote.journal"), "-")
	cmd.Stdin = strings.NewReader(b.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("systemd-journal-remote: %v\n%s", err, out)
	}
}
