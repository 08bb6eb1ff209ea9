package service

import (
	"os"
	"path/filepath"
	"testing"
)

func TestReadPIDFile(t *testing.T) {
	tests := []struct {
		data  string
		pid   int
		start uint64
		ok    bool
	}{
		{"1234 98765\n", 1234, 98765, true},
		{"1234 98765", 1234, 98765, true},
		{"", 0, 0, false},
		{"1234\n", 0, 0, false},
		{"1 5\n", 0, 0, false}, // never init
		{"-5 5\n", 0, 0, false},
		{"12 x\n", 0, 0, false},
		{"12 5 7\n", 0, 0, false},
	}
	for _, tt := range tests {
		path := filepath.Join(t.TempDir(), "instance-0.pid")
		if err := os.WriteFile(path, []byte(tt.data), 0o600); err != nil {
			t.Fatal(err)
		}
		pid, start, err := readPIDFile(path)
		if (err == nil) != tt.ok || pid != tt.pid || start != tt.start {
			t.Errorf("readPIDFile(%q) = %d, %d, %v; want %d, %d, ok %v", tt.data, pid, start, err, tt.pid, tt.start, tt.ok)
		}
	}
}

func TestProcStartTellsAProcessFromItsSuccessor(t *testing.T) {
	start, err := procStart(os.Getpid())
	if err != nil || start == 0 {
		t.Fatalf("procStart(self) = %d, %v", start, err)
	}
	again, _ := procStart(os.Getpid())
	if again != start {
		t.Errorf("the start time moved: %d then %d", start, again)
	}
	if _, err := procStart(1 << 30); err == nil {
		t.Error("a pid that cannot exist has a start time")
	}
}

func FuzzReadPIDFile(f *testing.F) {
	for _, s := range []string{"1234 98765\n", "", "1 1", "99999999999999999999 1", "2 18446744073709551616"} {
		f.Add(s)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data string) {
		path := filepath.Join(dir, "instance-0.pid")
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		pid, _, err := readPIDFile(path)
		if err == nil && pid <= 1 {
			t.Fatalf("readPIDFile(%q) accepted pid %d", data, pid)
		}
	})
}
