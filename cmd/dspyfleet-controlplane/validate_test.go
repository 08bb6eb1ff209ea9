package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestValidateCommand runs "controlplane validate" as a child process: a good file exits 0 and
// says so, a bad one exits non-zero naming file, line and key, and nothing is started.
func TestValidateCommand(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.yaml", "profile: production\ndata_dir: "+dir+"/never-created\nnode_ttl: 30s\n")
	bad := write("bad.yaml", "node_ttl: 30s\nttl_grace: -1s\nflush_intervall: 1s\n")
	tests := []struct {
		args     []string
		wantOK   bool
		wantText string
	}{
		{[]string{"validate", "--config", good}, true, good + ": valid"},
		{[]string{"validate", "--config", bad}, false, bad + ":3: flush_intervall: unknown field"},
		{[]string{"validate", "--config", write("range.yaml", "ttl_grace: -1s\n")}, false, "range.yaml:1: ttl_grace: --ttl-grace -1s must not be negative"},
		{[]string{"validate", "--config", good, "--profile", "prod"}, false, "--profile"},
		{[]string{"validate"}, false, "usage: controlplane validate --config FILE"},
		{[]string{"validate", "--config", filepath.Join(dir, "missing.yaml")}, false, "no such file"},
		{[]string{"validate", "--config", write("tok.yaml", "agent_token_file: "+write("short.token", "short\n")+"\n")}, false, "tok.yaml: --agent-token-file: token file"},
	}
	for _, tt := range tests {
		cmd, out := startChild(t, tt.args...)
		err := cmd.Wait()
		if (err == nil) != tt.wantOK || !strings.Contains(out.String(), tt.wantText) {
			t.Errorf("controlplane %v: exit %v, output %q; want ok=%v and %q", tt.args, err, out, tt.wantOK, tt.wantText)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "never-created")); !os.IsNotExist(err) {
		t.Fatalf("validate created the data dir: %v", err)
	}
}

// TestSettingsLayers checks flags > environment > file > profile on the real flag set.
func TestSettingsLayers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cp.yaml")
	if err := os.WriteFile(path, []byte("profile: development\nnode_ttl: 30s\nttl_grace: 7s\nlog_level: warn\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"DSPYFLEET_TTL_GRACE": "8s", "DSPYFLEET_CONFIG": path, "DSPYFLEET_FLUSH_INTERVAL": "3s"}
	st, err := parseSettings([]string{"--flush-interval", "4s"}, &strings.Builder{}, func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	})
	if err != nil {
		t.Fatal(err)
	}
	c := st.cfg
	if st.profile != "development" || c.CommandRetention != 24*time.Hour || c.NodeTTL != 30*time.Second ||
		c.TTLGrace != 8*time.Second || c.FlushInterval != 4*time.Second || st.logLevel != "warn" {
		t.Fatalf("settings %+v", st)
	}
}
