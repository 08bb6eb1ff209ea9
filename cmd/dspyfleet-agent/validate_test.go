package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestValidateCommand runs "agent validate" as a child process: the actions are checked too,
// nothing is started, and a bad file exits non-zero naming file, line and key.
func TestValidateCommand(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.yaml", "server: cp:7070\nstate_dir: "+dir+"/never-created\nactions:\n  service: {manager: systemd, unit: dspy.service}\n  cleanup:\n    - {root: "+dir+", max_age: 1h}\n")
	tests := []struct {
		args     []string
		wantOK   bool
		wantText string
	}{
		{[]string{"validate", "--config", good}, true, good + ": valid"},
		{[]string{"validate", "--config", write("typo.yaml", "actions:\n  backup:\n    kep: 3\n")}, false, "typo.yaml:3: actions.backup.kep: unknown field"},
		{[]string{"validate", "--config", write("range.yaml", "interval: 10ms\n")}, false, "range.yaml:1: interval: --interval 10ms must be between 100ms and 1h"},
		{[]string{"validate", "--config", write("act.yaml", "pool: a\nactions:\n  service: {manager: docker}\n")}, false, `act.yaml:3: actions.service: manager "docker" must be process or systemd`},
		{[]string{"validate", "--config", write("ca.yaml", "ca_file: "+filepath.Join(dir, "missing-ca.crt")+"\n")}, false, "ca.yaml: --ca-file"},
		{[]string{"validate"}, false, "usage: agent validate --config FILE"},
	}
	for _, tt := range tests {
		cmd, out := startChild(t, tt.args...)
		err := cmd.Wait()
		if (err == nil) != tt.wantOK || !strings.Contains(out.String(), tt.wantText) {
			t.Errorf("agent %v: exit %v, output %q; want ok=%v and %q", tt.args, err, out, tt.wantOK, tt.wantText)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "never-created")); !os.IsNotExist(err) {
		t.Fatalf("validate created the state dir: %v", err)
	}
}

// TestSettingsLayers checks flags > environment > file > profile on the real flag set, and the
// older DSPYFLEET_ADDR below DSPYFLEET_SERVER.
func TestSettingsLayers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agent.yaml")
	if err := os.WriteFile(path, []byte("profile: development\npool: from-file\nweight: 2\nserver: file:1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"DSPYFLEET_WEIGHT": "3", "DSPYFLEET_ADDR": "addr:1", "DSPYFLEET_POOL": "from-env"}
	lookup := func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}
	st, err := parseSettings([]string{"--config", path, "--pool", "from-flag", "--label", "a=b"}, &strings.Builder{}, lookup)
	if err != nil {
		t.Fatal(err)
	}
	c := st.cfg
	if c.Interval != 2*time.Second || c.Pool != "from-flag" || c.Weight != 3 || c.Server != "addr:1" || c.Labels["a"] != "b" || st.logLevel != "debug" {
		t.Fatalf("settings %+v", st)
	}
	env["DSPYFLEET_SERVER"] = "server:1"
	if st, err = parseSettings([]string{"--config", path}, &strings.Builder{}, lookup); err != nil || st.cfg.Server != "server:1" {
		t.Fatalf("DSPYFLEET_SERVER below DSPYFLEET_ADDR: %q, %v", st.cfg.Server, err)
	}
}
