package agent

import (
	"strings"
	"testing"

	"github.com/dspyfleet/dspyfleet/internal/cli"
)

// TestFileCheckErrors checks the message of each out-of-range value: file:line: key: problem.
func TestFileCheckErrors(t *testing.T) {
	tests := []struct {
		desc string
		yaml string
		want string
	}{
		{"interval", "pool: gpu\ninterval: 10ms\n", "agent.yaml:2: interval: --interval 10ms must be between 100ms and 1h"},
		{"pool", "pool: a/b\n", `agent.yaml:1: pool: --pool "a/b" must be 1-63 letters`},
		{"label", "labels: {\"bad key!\": x}\n", `agent.yaml:1: labels: --label key "bad key!"`},
		{"prices", "prices:\n  m: {input_per_mtok: -1}\n", "agent.yaml:1: prices: prices[m].input_per_mtok -1 must not be negative"},
		{"intake", "intake:\n  listen: 127.0.0.1:0\n  max_body: -5\n", "agent.yaml:1: intake: intake: max body -5 is negative"},
		{"proxy", "proxy:\n  listen: 127.0.0.1:0\n", "agent.yaml:1: proxy:"},
		{"log level", "log_level: loud\n", `agent.yaml:1: log_level: log level "loud" must be`},
		{"service manager", "actions:\n  service:\n    manager: docker\n", `agent.yaml:2: actions.service: manager "docker" must be process or systemd`},
		{"systemd unit", "actions:\n  service: {manager: systemd, unit: \"a b\"}\n", `agent.yaml:2: actions.service: invalid service config: unit "a b"`},
		{"process command", "actions:\n  service: {manager: process, base_port: 8000}\n", "agent.yaml:2: actions.service: invalid service config: command is empty"},
		{"cleanup root", "actions:\n  cleanup:\n    - {root: relative, max_age: 1h}\n", `agent.yaml:2: actions.cleanup: invalid cleanup rule 0: root: "relative" is not an absolute path`},
		{"backup", "actions:\n  backup: {paths: [/tmp], dir: /var/backups, keep: 0}\n", "agent.yaml:2: actions.backup: invalid backup config: keep: 0 must be at least 1"},
		{"deploy", "actions:\n  deploy: {hook: []}\n", "agent.yaml:2: actions.deploy: invalid service config: deploy hook is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			f, err := ParseFile("agent.yaml", []byte(tt.yaml))
			if err == nil {
				err = f.Check(DefaultConfig())
			}
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("got %v\nwant %s", err, tt.want)
			}
		})
	}
}

func TestProfilesAreValid(t *testing.T) {
	for _, p := range []string{"", cli.Development, cli.Staging, cli.Production} {
		if err := CheckConfig(ProfileConfig(p)); err != nil {
			t.Errorf("profile %q: %v", p, err)
		}
	}
	if ProfileConfig(cli.Development).Interval >= DefaultConfig().Interval {
		t.Error("development reports no faster than production")
	}
}

// FuzzParseFile feeds arbitrary files through the parser and the checks (actions included):
// never a panic, and a file that passes gives a configuration CheckConfig accepts.
func FuzzParseFile(f *testing.F) {
	for _, seed := range []string{
		"", "server: cp:7070\ninterval: 1s\n", "labels: {a: b}\nprices: {m: {input_per_mtok: 1}}\n",
		"actions:\n  cleanup:\n    - {root: /tmp, max_age: 1h}\n  backup: {paths: [/etc], dir: /b, keep: 1}\n",
		"actions:\n  service: {manager: systemd, unit: dspy.service}\n", "intake: {listen: 127.0.0.1:0, max_body: 10}\n",
		"a: &x [1]\nb: *x\n", "buffer_size: 1.5\n", "prices: {m: {input_per_mtok: .nan}}\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := ParseFile("fuzz.yaml", data)
		if err != nil {
			return
		}
		c := DefaultConfig()
		if err := file.Check(c); err != nil {
			return
		}
		file.Apply(&c)
		if err := CheckConfig(c); err != nil {
			t.Fatalf("checked file gives an invalid config: %v", err)
		}
	})
}
