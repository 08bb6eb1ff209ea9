package controlplane_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dspyfleet/dspyfleet/controlplane"
	"github.com/dspyfleet/dspyfleet/internal/cli"
)

// TestParseFileErrors checks the message of each kind of bad config file: file:line: key: problem.
func TestParseFileErrors(t *testing.T) {
	tests := []struct {
		desc string
		yaml string
		want string
	}{
		{"unknown key", "grpc_listen: 127.0.0.1:0\nnode_tll: 5s\n", "cp.yaml:2: node_tll: unknown field; known fields are admin_burst, admin_rate,"},
		{"wrong type", "max_recv_bytes: lots\n", `cp.yaml:1: max_recv_bytes: want a whole number, got "lots"`},
		{"unparsable duration", "\nttl_grace: 5 seconds\n", `cp.yaml:2: ttl_grace: want a duration such as 30s, 5m or 1h30m, got "5 seconds"`},
		{"duplicate key", "ttl_grace: 1s\nttl_grace: 2s\n", "cp.yaml:2: ttl_grace: set twice (first on line 1)"},
		{"out of range", "data_dir: /d\nttl_grace: -1s\n", "cp.yaml:2: ttl_grace: --ttl-grace -1s must not be negative"},
		{"too small", "max_recv_bytes: 10\n", "cp.yaml:1: max_recv_bytes: --max-recv-bytes 10 must be at least 1024"},
		{"retention", "rollup_retention: 10m\n", "cp.yaml:1: rollup_retention: --rollup-retention 10m0s must be at least 1h"},
		{"empty value", "data_dir: \"\"\n", "cp.yaml:1: data_dir: --data-dir is empty"},
		{"log level", "log_level: loud\n", `cp.yaml:1: log_level: log level "loud" must be debug, info, warn or error`},
		{"profile", "profile: prod\n", `cp.yaml:1: profile: profile "prod" must be development, staging or production`},
		{"node gc", "node_gc_unready: 1h\nnode_gc: -1s\n", "cp.yaml:2: node_gc: --node-gc -1s must not be negative (0 turns it off)"},
		{"node gc unready", "node_gc_unready: -1m\n", "cp.yaml:1: node_gc_unready: --node-gc-unready -1m0s must not be negative"},
		{"new nodes", "max_new_nodes_per_minute: -5\n", "cp.yaml:1: max_new_nodes_per_minute: --max-new-nodes-per-minute -5 must not be negative (0 means no limit)"},
		{"several", "liveness_check: 0s\nreconcile_interval: -1s\n", "cp.yaml:1: liveness_check: --liveness-check 0s must be positive\ncp.yaml:2: reconcile_interval: --reconcile-interval -1s must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			f, err := controlplane.ParseFile("cp.yaml", []byte(tt.yaml))
			if err == nil {
				err = f.Check(controlplane.DefaultConfig())
			}
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("got %v\nwant %s", err, tt.want)
			}
		})
	}
}

func TestLoadFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cp.yaml")
	yaml := "profile: staging\nlog_level: warn\ngrpc_listen: 0.0.0.0:7070\nnode_ttl: 30s\ncommand_retention: 48h\nrollup_retention: 72h\n"
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := controlplane.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if f.Profile() != cli.Staging || f.LogLevel() != "warn" {
		t.Fatalf("profile %q, log level %q", f.Profile(), f.LogLevel())
	}
	c := controlplane.ProfileConfig(f.Profile())
	if err := controlplane.LoadFile(path, &c); err != nil {
		t.Fatal(err)
	}
	if c.GRPCListen != "0.0.0.0:7070" || c.NodeTTL != 30*time.Second || c.CommandRetention != 48*time.Hour ||
		c.RollupRetention != 72*time.Hour || c.FailoverTTL != 30*time.Second {
		t.Fatalf("loaded %+v", c)
	}
	if err := controlplane.LoadFile(filepath.Join(t.TempDir(), "none.yaml"), &c); err == nil || !strings.Contains(err.Error(), "--config") {
		t.Fatalf("missing file: %v", err)
	}
}

func TestProfilesAreValid(t *testing.T) {
	for _, p := range []string{"", cli.Development, cli.Staging, cli.Production} {
		if err := controlplane.ProfileConfig(p).Validate(); err != nil {
			t.Errorf("profile %q: %v", p, err)
		}
	}
	if !reflect.DeepEqual(controlplane.ProfileConfig(cli.Production), controlplane.DefaultConfig()) {
		t.Error("production differs from the defaults")
	}
	if controlplane.ProfileConfig(cli.Development).CommandRetention >= controlplane.DefaultConfig().CommandRetention {
		t.Error("development keeps as much history as production")
	}
}

// FuzzParseFile feeds arbitrary files through the parser and the range check: never a panic, and a
// file that passes both gives a configuration that validates.
func FuzzParseFile(f *testing.F) {
	for _, seed := range []string{
		"", "node_ttl: 5s\n", "grpc_listen: [a]\n", "a: &x 1\nb: *x\n", "ttl_grace: -1s\nmax_recv_bytes: 1e3\n",
		"profile: development\nlog_level: debug\nrollup_retention: 2h\n", "- 1\n", "{", "max_recv_bytes: 1.5\n",
		"max_nodes: 5\nagent_rate: 0.5\nadmin_burst: 0\naudit_retention: 2h\ninsecure: true\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := controlplane.ParseFile("fuzz.yaml", data)
		if err != nil {
			return
		}
		base := controlplane.DefaultConfig()
		if err := file.Check(base); err != nil {
			return
		}
		file.Apply(&base)
		if err := base.Validate(); err != nil {
			t.Fatalf("checked file gives an invalid config: %v", err)
		}
	})
}
