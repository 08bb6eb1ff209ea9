package service

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode"
)

func TestValidVersion(t *testing.T) {
	tests := []struct {
		v     string
		valid bool
	}{
		{"1.2.3", true},
		{"v2+build.5", true},
		{"2026-11-27_rc1", true},
		{"a", true},
		{"A" + strings.Repeat("b", 127), true},
		{"", false},
		{"-rf", false},
		{"--help", false},
		{".hidden", false},
		{"a b", false},
		{"1.2.3\n", false},
		{"$(x)", false},
		{"`x`", false},
		{"a;b", false},
		{"../x", false},
		{"a/b", false},
		{"é1", false},
		{"A" + strings.Repeat("b", 128), false},
		{strings.Repeat("x", 200), false},
	}
	for _, tt := range tests {
		err := ValidVersion(tt.v)
		if tt.valid && err != nil {
			t.Errorf("ValidVersion(%q) = %v, want nil", tt.v, err)
		}
		if !tt.valid && (!errors.Is(err, ErrInvalidVersion) || !strings.Contains(err.Error(), "letters, digits")) {
			t.Errorf("ValidVersion(%q) = %v, want ErrInvalidVersion explaining the rule", tt.v, err)
		}
	}
	if err := ValidVersion(strings.Repeat("x", 200)); len(err.Error()) > 200 {
		t.Errorf("ValidVersion of 200 characters quotes all of them: %q", err)
	}
}

func FuzzValidVersion(f *testing.F) {
	for _, seed := range []string{"1.2.3", "v2+build.5", "", "-rf", "a b", "$(x)", "../x", "a;b", "`x`", "a\tb", "1.0/2"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if ValidVersion(v) != nil {
			return
		}
		if v == "" || len(v) > 128 || v[0] == '-' || v[0] == '.' {
			t.Fatalf("ValidVersion accepted %q", v)
		}
		if strings.ContainsAny(v, "/$`;\\'\"&|<>*?(){}[]!~#=,:") || strings.ContainsFunc(v, unicode.IsSpace) {
			t.Fatalf("ValidVersion accepted %q", v)
		}
	})
}

// hook writes a shell script into a temporary directory and returns the argv that runs it.
// Running it through /bin/sh avoids executing a file this process just wrote.
func hook(t *testing.T, script string, args ...string) []string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "hook.sh")
	if err := os.WriteFile(path, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	return append([]string{"/bin/sh", path}, args...)
}

// listening returns a loopback port that accepts connections until the test ends.
func listening(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

// recordArgs is a hook that writes its arguments after the first, one a line, to the file
// named by its first argument.
const recordArgs = `out=$1
shift
for a in "$@"; do printf '%s\n' "$a"; done > "$out"
echo "deploying $# args"
`

func TestDeploy(t *testing.T) {
	out := filepath.Join(t.TempDir(), "args")
	cfg := DeployConfig{
		Hook:   hook(t, recordArgs, out, "--channel=stable"),
		Health: HealthCheck{TCP: "127.0.0.1:{port}", Timeout: 5 * time.Second},
	}
	res, err := Deploy(testContext(t), cfg, "v2+build.5", listening(t))
	if err != nil {
		t.Fatalf("Deploy() = %v", err)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if want := "--channel=stable\nv2+build.5\n"; string(got) != want {
		t.Errorf("hook arguments = %q, want %q (version last)", got, want)
	}
	if res.Fields["version"] != "v2+build.5" || res.Fields["exit_status"] != "exit status 0" || res.Fields["output_tail"] != "deploying 2 args\n" {
		t.Errorf("Deploy() Fields = %q", res.Fields)
	}
	if !strings.Contains(res.Detail, "v2+build.5") {
		t.Errorf("Deploy() Detail = %q, want the version", res.Detail)
	}
}

func TestDeployFails(t *testing.T) {
	port := listening(t)
	tests := []struct {
		name       string
		script     string
		version    string
		timeout    time.Duration
		health     HealthCheck
		want       error
		wantErr    []string
		wantFields bool // the hook ran, so the Result describes it
	}{
		{
			name: "hook exits non-zero", script: "echo 'disk full'\nexit 3\n", version: "1.2.3",
			want: ErrHookFailed, wantErr: []string{"hook.sh 1.2.3 ended with exit status 3", "output tail:\ndisk full"}, wantFields: true,
		},
		{
			name: "hook times out", script: "echo started\nsleep 30\n", version: "1.2.3", timeout: 200 * time.Millisecond,
			want: ErrHookFailed, wantErr: []string{"timed out after 200ms", "signal: terminated", "started"}, wantFields: true,
		},
		{
			name: "service unhealthy after hook", script: "true\n", version: "1.2.3",
			health: HealthCheck{TCP: "127.0.0.1:{port}", Timeout: 200 * time.Millisecond},
			want:   ErrUnhealthy, wantErr: []string{"the hook succeeded", "TCP connect to 127.0.0.1:"}, wantFields: true,
		},
		{
			name: "invalid version", script: "touch ran\n", version: "$(reboot)",
			want: ErrInvalidVersion, wantErr: []string{`"$(reboot)"`},
		},
		{
			name: "invalid config", script: "true\n", version: "1.2.3", timeout: -time.Second,
			want: ErrInvalidConfig, wantErr: []string{"deploy timeout -1s must not be negative"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DeployConfig{Hook: hook(t, tt.script), Timeout: tt.timeout, Health: tt.health}
			healthPort := port
			if cfg.Health == (HealthCheck{}) {
				cfg.Health = HealthCheck{TCP: "127.0.0.1:{port}"}
			} else {
				healthPort = closedPort(t)
			}
			start := time.Now()
			res, err := Deploy(testContext(t), cfg, tt.version, healthPort)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Deploy() = %v, want %v", err, tt.want)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Deploy() error %q does not contain %q", err, want)
				}
			}
			if hasFields := res.Fields["exit_status"] != ""; hasFields != tt.wantFields {
				t.Errorf("Deploy() Fields = %q; want hook fields %t", res.Fields, tt.wantFields)
			}
			if elapsed := time.Since(start); elapsed > 10*time.Second {
				t.Errorf("Deploy() took %s", elapsed)
			}
		})
	}
}

func TestDeployCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(200*time.Millisecond, cancel)
	cfg := DeployConfig{Hook: hook(t, "sleep 30\n"), Health: HealthCheck{TCP: "127.0.0.1:{port}"}}
	_, err := Deploy(ctx, cfg, "1.2.3", 1)
	if !errors.Is(err, ErrHookFailed) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Deploy() = %v, want ErrHookFailed and context.Canceled", err)
	}
}

func TestDeployInvalidVersionNeverRunsHook(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "ran")
	cfg := DeployConfig{Hook: hook(t, `touch "$1"`+"\n", marker), Health: HealthCheck{TCP: "127.0.0.1:{port}"}}
	for _, v := range []string{"-rf", "a b", "../x", ""} {
		if _, err := Deploy(testContext(t), cfg, v, 1); !errors.Is(err, ErrInvalidVersion) {
			t.Errorf("Deploy(%q) = %v, want ErrInvalidVersion", v, err)
		}
	}
	if _, err := os.Stat(marker); !os.IsNotExist(err) {
		t.Errorf("the hook ran for an invalid version (stat: %v)", err)
	}
}

func TestDeployConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     DeployConfig
		wantErr string
	}{
		{"valid", DeployConfig{Hook: []string{"/usr/local/bin/deploy"}, Health: HealthCheck{URL: "http://127.0.0.1:8000/healthz"}}, ""},
		{"no hook", DeployConfig{Health: HealthCheck{TCP: "127.0.0.1:1"}}, "deploy hook is empty"},
		{"empty argv0", DeployConfig{Hook: []string{""}, Health: HealthCheck{TCP: "127.0.0.1:1"}}, "deploy hook is empty"},
		{"no health", DeployConfig{Hook: []string{"/bin/true"}}, "needs a URL or a TCP address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate() = %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate() = %v, want ErrInvalidConfig containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestDeployHookMissing(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-such-hook")
	cfg := DeployConfig{Hook: []string{missing}, Health: HealthCheck{TCP: "127.0.0.1:{port}"}}
	_, err := Deploy(testContext(t), cfg, "1.2.3", 1)
	if !errors.Is(err, ErrHookFailed) || !strings.Contains(err.Error(), missing+" 1.2.3") {
		t.Fatalf("Deploy() = %v, want ErrHookFailed naming the hook", err)
	}
}
