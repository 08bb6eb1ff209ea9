package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dspyfleet/dspyfleet/internal/credential"
	"github.com/dspyfleet/dspyfleet/pkg/reqstats"
)

func TestLoadFile(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		wantErr string
		check   func(t *testing.T, c Config)
	}{
		{
			name: "all keys",
			yaml: "server: cp:7070\nnode_id: gpu-1\npool: gpu\nlabels: {zone: a, gpu: a10}\nweight: 2\nhourly_price: 1.25\ninstance_type: g5.xlarge\ninterval: 1s\nstate_dir: /tmp/x\nbuffer_size: 10\n",
			check: func(t *testing.T, c Config) {
				if c.Server != "cp:7070" || c.NodeID != "gpu-1" || c.Pool != "gpu" || c.Labels["gpu"] != "a10" ||
					c.Weight != 2 || c.HourlyPrice != 1.25 || c.InstanceType != "g5.xlarge" || c.Interval != time.Second ||
					c.StateDir != "/tmp/x" || c.BufferSize != 10 {
					t.Fatalf("loaded %+v", c)
				}
			},
		},
		{
			name: "absent keys keep defaults",
			yaml: "pool: gpu\n",
			check: func(t *testing.T, c Config) {
				if c.Interval != 5*time.Second || c.BufferSize != 720 || c.Server != "127.0.0.1:7070" {
					t.Fatalf("defaults lost: %+v", c)
				}
			},
		},
		{name: "empty file", yaml: "", check: func(*testing.T, Config) {}},
		{name: "unknown key", yaml: "pool: gpu\nintervall: 1s\n", wantErr: "agent.yaml:2: intervall: unknown field"},
		{name: "wrong type", yaml: "weight: heavy\n", wantErr: `agent.yaml:1: weight: want a number, got "heavy"`},
		{name: "bad duration", yaml: "interval: soon\n", wantErr: `agent.yaml:1: interval: want a duration such as 30s, 5m or 1h30m, got "soon"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "agent.yaml")
			if err := os.WriteFile(path, []byte(tt.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			c := DefaultConfig()
			err := LoadFile(path, &c)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(c *Config)
		wantErr string
	}{
		{"defaults", func(*Config) {}, ""},
		{"one second interval", func(c *Config) { c.Interval = time.Second }, ""},
		{"bad node id", func(c *Config) { c.NodeID = "no spaces" }, "--node-id"},
		{"bad pool", func(c *Config) { c.Pool = "a/b" }, "--pool"},
		{"bad label", func(c *Config) { c.Labels = map[string]string{"": "x"} }, "--label"},
		{"interval too short", func(c *Config) { c.Interval = time.Millisecond }, "--interval"},
		{"negative weight", func(c *Config) { c.Weight = -1 }, "--weight"},
		{"no server", func(c *Config) { c.Server = "" }, "--server"},
		{"zero buffer", func(c *Config) { c.BufferSize = 0 }, "--buffer-size"},
		{"spot on ec2", func(c *Config) { c.CapacityType, c.Cloud = "spot", "ec2" }, ""},
		{"bad capacity type", func(c *Config) { c.CapacityType = "on-demand" }, "--capacity-type"},
		{"unknown cloud", func(c *Config) { c.Cloud = "ibm" }, "--cloud"},
		{"metadata url without cloud", func(c *Config) { c.MetadataURL = "http://127.0.0.1:1" }, "--metadata-url"},
		{"metadata poll too fast", func(c *Config) { c.Cloud, c.MetadataInterval = "gce", time.Millisecond }, "--metadata-interval"},
		{"negative term notice", func(c *Config) { c.TermNotice = -time.Second }, "--term-notice"},
		{"huge hourly price", func(c *Config) { c.HourlyPrice = 1e308 }, "--hourly-price 1e+308 is over the bound"},
		{"huge token price", func(c *Config) { c.Prices = reqstats.Prices{"m": {OutputPerMTok: 1e308}} }, "prices[m].output_per_mtok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.mutate(&c)
			err := c.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got %v, want error naming %s", err, tt.wantErr)
			}
		})
	}
}

// TestLoadFileActionsAndPrices parses the actions and prices sections as the README shows them.
func TestLoadFileActionsAndPrices(t *testing.T) {
	yaml := `
prices:
  openai/gpt-4o-mini: {input_per_mtok: 0.15, output_per_mtok: 0.6}
actions:
  service:
    manager: process
    command: [/opt/dspy/bin/serve, --port, "{port}"]
    base_port: 8000
    stop_grace: 10s
    health: {url: "http://127.0.0.1:{port}/healthz", timeout: 30s}
  deploy:
    hook: [/opt/dspy/bin/deploy]
    timeout: 10m
  cleanup:
    - {root: /var/log/dspy, patterns: ["*.log"], max_age: 168h}
    - {root: /var/cache/dspy, max_bytes: 10737418240}
  backup:
    paths: [/etc/dspy, /var/lib/dspy/programs]
    dir: /var/backups/dspy
    keep: 7
`
	path := filepath.Join(t.TempDir(), "agent.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	c := DefaultConfig()
	if err := LoadFile(path, &c); err != nil {
		t.Fatal(err)
	}
	a := c.ActionsConfig
	if a.Service.Manager != "process" || a.Service.BasePort != 8000 || a.Service.StopGrace != 10*time.Second || a.Service.Health.Timeout != 30*time.Second {
		t.Fatalf("service %+v", a.Service)
	}
	if a.Deploy.Timeout != 10*time.Minute || len(a.Cleanup) != 2 || a.Cleanup[1].MaxBytes != 10737418240 || a.Backup.Keep != 7 {
		t.Fatalf("actions %+v", a)
	}
	if p := c.Prices["openai/gpt-4o-mini"]; p.InputPerMTok != 0.15 || p.OutputPerMTok != 0.6 {
		t.Fatalf("prices %+v", c.Prices)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("actions:\n  cleanup:\n    - {root: /x, max_agee: 1h}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := LoadFile(bad, &c); err == nil || !strings.Contains(err.Error(), "bad.yaml:3: actions.cleanup[0].max_agee: unknown field") {
		t.Fatalf("typo in a nested key: %v", err)
	}
}

func TestCleartextToken(t *testing.T) {
	tok, err := credential.ParseToken([]byte("agent-0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		server string
		tls    bool
		token  bool
		want   bool
	}{
		{"cp.example:7070", false, true, true},
		{"10.0.0.5:7070", false, true, true},
		{"cp.example:7070", true, true, false},
		{"cp.example:7070", false, false, false},
		{"127.0.0.1:7070", false, true, false},
		{"[::1]:7070", false, true, false},
		{"localhost:7070", false, true, false},
	} {
		c := DefaultConfig()
		c.Server, c.TLS = tc.server, tc.tls
		if tc.token {
			c.Token = tok
		}
		if got := cleartextToken(c); got != tc.want {
			t.Errorf("cleartextToken(%s, tls=%v, token=%v) = %v", tc.server, tc.tls, tc.token, got)
		}
	}
}
