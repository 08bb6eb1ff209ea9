package secmon

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/dspyfleet/dspyfleet/internal/fleettest"
)

func TestParseAuthLine(t *testing.T) {
	tests := []struct {
		line string
		want AuthFailure
	}{
		{"Dec  3 10:00:01 web-1 sshd[1234]: Failed password for root from 203.0.113.9 port 52144 ssh2", SSHFailure},
		{"Dec  3 10:00:01 web-1 sshd[1234]: Failed password for invalid user admin from 203.0.113.9 port 52144 ssh2", SSHFailure},
		{"Dec  3 10:00:02 web-1 sshd[1234]: Invalid user oracle from 203.0.113.9 port 52150", SSHFailure},
		{"2026-12-03T10:00:02+00:00 web-1 sshd-session[99]: Failed publickey for deploy from 198.51.100.4 port 2222 ssh2: ED25519 SHA256:x", SSHFailure},
		{"Dec  3 10:00:03 web-1 sshd[77]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.9", SSHFailure},
		{"Dec  3 10:00:04 web-1 sshd[77]: Accepted publickey for deploy from 10.0.0.2 port 50000 ssh2", NoFailure},
		{"Dec  3 10:00:05 web-1 sudo: pam_unix(sudo:auth): authentication failure; logname=bob uid=1000 euid=0 tty=/dev/pts/0 ruser=bob rhost=  user=bob", SudoFailure},
		{"Dec  3 10:00:06 web-1 sudo:      bob : 3 incorrect password attempts ; TTY=pts/0 ; PWD=/home/bob ; USER=root ; COMMAND=/bin/sh", SudoFailure},
		{"Dec  3 10:00:07 web-1 sudo:     eve : user NOT in sudoers ; TTY=pts/1 ; PWD=/ ; USER=root ; COMMAND=/bin/cat /etc/shadow", SudoFailure},
		{"Dec  3 10:00:08 web-1 sudo:      bob : TTY=pts/0 ; PWD=/home/bob ; USER=root ; COMMAND=/bin/ls", NoFailure},
		{"Dec  3 10:00:09 web-1 CRON[5]: pam_unix(cron:session): session opened for user root", NoFailure},
		{"", NoFailure},
	}
	for _, tt := range tests {
		if got := ParseAuthLine(tt.line); got != tt.want {
			t.Errorf("ParseAuthLine(%q) = %d, want %d", tt.line, got, tt.want)
		}
	}
}

func FuzzParseAuthLine(f *testing.F) {
	f.Add("Dec  3 10:00:01 web-1 sshd[1234]: Failed password for root from 203.0.113.9 port 52144 ssh2")
	f.Add("sudo: pam_unix(sudo:auth): authentication failure;")
	f.Fuzz(func(t *testing.T, line string) {
		got := ParseAuthLine(line)
		if got != NoFailure && got != SSHFailure && got != SudoFailure {
			t.Fatalf("unknown result %d", got)
		}
	})
}

func TestNewListeners(t *testing.T) {
	known := map[Listener]bool{}
	ssh := Listener{"tcp", "0.0.0.0:22"}
	if got := NewListeners(known, []Listener{ssh}, true); len(got) != 0 {
		t.Fatalf("the baseline reported %v", got)
	}
	web, dbg := Listener{"tcp", "0.0.0.0:8080"}, Listener{"tcp6", "[::]:4444"}
	if got := NewListeners(known, []Listener{dbg, ssh, web}, false); !slices.Equal(got, []Listener{web, dbg}) {
		t.Fatalf("new listeners %v, want %v", got, []Listener{web, dbg})
	}
	if got := NewListeners(known, []Listener{ssh, web}, false); len(got) != 0 {
		t.Fatalf("known listeners reported again: %v", got)
	}
}

func newTestMonitor(t *testing.T, cfg Config) *Monitor {
	t.Helper()
	m, err := New(cfg, fleettest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestRealListener opens a real socket between two checks of the real socket table.
func TestRealListener(t *testing.T) {
	m := newTestMonitor(t, Config{Listeners: true})
	ctx := context.Background()
	m.check(ctx, true)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	m.check(ctx, false)
	got := m.Flush()
	if got.GetNewListeners() == 0 || !slices.Contains(got.GetListeners(), "tcp "+lis.Addr().String()) {
		t.Fatalf("after listening on %s: %v", lis.Addr(), got)
	}
	// The socket table is the host's: other processes (tests running beside this one) may open
	// listeners between the checks. What must not happen is the same listener counted again.
	m.check(ctx, false)
	again := m.Flush()
	ours := "tcp " + lis.Addr().String()
	if n := len(slices.DeleteFunc(slices.Clone(again.GetListeners()), func(l string) bool { return l != ours })); n != 1 || again.GetNewListeners() < got.GetNewListeners() {
		t.Fatalf("a second check counted %s %d times (want once), window %v then %v", ours, n, got, again)
	}
}

func TestFileIntegrity(t *testing.T) {
	dir := t.TempDir()
	conf, gone, later := filepath.Join(dir, "app.yaml"), filepath.Join(dir, "key.pem"), filepath.Join(dir, "later")
	for _, p := range []string{conf, gone} {
		if err := os.WriteFile(p, []byte("v1"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	m := newTestMonitor(t, Config{Files: []string{conf, gone, later}})
	ctx := context.Background()
	m.check(ctx, true)
	m.check(ctx, false)
	if got := m.Flush(); got.GetFileChanged() != 0 {
		t.Fatalf("unchanged files reported: %v", got)
	}
	if err := os.WriteFile(conf, []byte("v2"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(gone); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(later, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	m.check(ctx, false)
	got := m.Flush()
	if got.GetFileChanged() != 3 || !slices.Equal(got.GetChangedFiles(), []string{conf, gone, later}) {
		t.Fatalf("changes %v, want the edited, removed and created files", got)
	}
}

func TestAuthLogFollowed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "auth.log")
	m := newTestMonitor(t, Config{AuthLog: path, Poll: 10 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	fleettest.Eventually(t, 5*time.Second, "an ssh and a sudo failure counted", func() bool {
		f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = f.WriteString("Dec  3 10:00:01 web-1 sshd[1]: Failed password for root from 203.0.113.9 port 1 ssh2\n" +
			"Dec  3 10:00:02 web-1 sudo:  bob : 3 incorrect password attempts ; TTY=pts/0\n")
		f.Close()
		s := m.Flush()
		return s.GetSshFailures() > 0 && s.GetSudoFailures() > 0
	})
}

func TestConfigValidate(t *testing.T) {
	if err := (Config{Files: []string{""}, CheckInterval: -1}).Validate(); err == nil {
		t.Fatal("an empty path and a negative interval passed")
	}
	if (Config{}).Enabled() {
		t.Fatal("the zero config watches something")
	}
}

// TestSlidingWindow: events count in every report for Window, then drop out.
func TestSlidingWindow(t *testing.T) {
	m := newTestMonitor(t, Config{AuthLog: "x", Window: 2 * time.Minute})
	now := time.Date(2026, 12, 3, 10, 0, 30, 0, time.UTC)
	m.now = func() time.Time { return now }
	ssh := "Dec  3 10:00:01 web-1 sshd[1]: Failed password for root from 203.0.113.9 port 1 ssh2"
	m.authLine(ssh)
	m.authLine(ssh)
	m.add(func(b *bucket) { b.files++ }, "/etc/app.yaml", true)
	for _, step := range []struct {
		after     time.Duration
		ssh, file uint32
	}{
		{0, 2, 1},
		{time.Minute, 2, 1}, // 10:01:30, the 10:00 minute is still in the two-minute window
		{time.Minute, 0, 0}, // 10:02:30
	} {
		now = now.Add(step.after)
		got := m.Flush()
		if got.GetSshFailures() != step.ssh || got.GetFileChanged() != step.file || uint32(len(got.GetChangedFiles())) != step.file {
			t.Fatalf("at %s: %v, want %d ssh failures and %d changed files", now.Format("15:04:05"), got, step.ssh, step.file)
		}
	}
	m.authLine(ssh)
	if got := m.Flush(); got.GetSshFailures() != 1 {
		t.Fatalf("a new minute's failure: %v", got)
	}
}

func TestAuthJournalFollowed(t *testing.T) {
	j := fleettest.NewJournal(t)
	m := newTestMonitor(t, Config{AuthJournal: true, JournalDirectory: j.Dir, CursorFile: filepath.Join(t.TempDir(), "auth.cursor")})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	fleettest.Eventually(t, 20*time.Second, "an ssh and a sudo failure counted from the journal", func() bool {
		j.Append(t,
			map[string]string{"_SYSTEMD_UNIT": "ssh.service", "SYSLOG_IDENTIFIER": "sshd", "_PID": "41", "MESSAGE": "Failed password for root from 203.0.113.9 port 1 ssh2"},
			map[string]string{"SYSLOG_IDENTIFIER": "sudo", "_PID": "42", "MESSAGE": "pam_unix(sudo:auth): authentication failure; logname=bob uid=1000"},
			map[string]string{"_SYSTEMD_UNIT": "dspy.service", "SYSLOG_IDENTIFIER": "sshd", "_PID": "43", "MESSAGE": "Failed password for mallory from 203.0.113.9 port 1 ssh2"},
		)
		s := m.Flush()
		return s.GetSshFailures() > 0 && s.GetSudoFailures() > 0
	})
	// Each batch has one failure of each kind in the auth units; the dspy.service sshd line
	// is not theirs and would make the ssh count run ahead.
	fleettest.Eventually(t, 10*time.Second, "as many ssh as sudo failures", func() bool {
		s := m.Flush()
		return s.GetSshFailures() == s.GetSudoFailures()
	})
}
