package cli

import (
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

// layered is a command's settings for the Parse tests.
type layered struct {
	configPath, profile, name string
	ttl                       time.Duration
}

func parseLayered(args []string, env map[string]string, fileProfile string) (layered, error) {
	var l layered
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&l.configPath, "config", "", "")
	fs.StringVar(&l.profile, "profile", "", "")
	fs.StringVar(&l.name, "name", "default", "")
	fs.DurationVar(&l.ttl, "node-ttl", time.Second, "")
	err := Parse(fs, args, Sources{
		ConfigPath: &l.configPath,
		Profile:    &l.profile,
		Env: func(k string) (string, bool) {
			v, ok := env[k]
			return v, ok
		},
		EnvAliases: map[string]string{"DSPYFLEET_OLD_NAME": "name"},
		Defaults: func(profile string) {
			l.name, l.ttl = "default", time.Second
			if profile == Development {
				l.name, l.ttl = "dev-default", 2*time.Second
			}
		},
		Read: func(path string) (string, func() error, error) {
			if path == "missing" {
				return "", nil, io.ErrUnexpectedEOF
			}
			return fileProfile, func() error {
				l.name = "from-file"
				return nil
			}, nil
		},
	})
	return l, err
}

// TestParseLayers checks the precedence: flags > environment > file > profile defaults.
func TestParseLayers(t *testing.T) {
	tests := []struct {
		desc        string
		args        []string
		env         map[string]string
		fileProfile string
		wantName    string
		wantTTL     time.Duration
		wantProfile string
		wantErr     string
	}{
		{desc: "defaults", wantName: "default", wantTTL: time.Second},
		{desc: "profile flag", args: []string{"--profile", "development"}, wantName: "dev-default", wantTTL: 2 * time.Second, wantProfile: Development},
		{desc: "profile from env", env: map[string]string{"DSPYFLEET_PROFILE": "development"}, wantName: "dev-default", wantTTL: 2 * time.Second, wantProfile: Development},
		{desc: "profile from the file", args: []string{"--config", "f"}, fileProfile: Development, wantName: "from-file", wantTTL: 2 * time.Second, wantProfile: Development},
		{desc: "profile flag beats the file's", args: []string{"--config", "f", "--profile", "staging"}, fileProfile: Development, wantName: "from-file", wantTTL: time.Second, wantProfile: Staging},
		{desc: "file over profile", args: []string{"--config", "f", "--profile", "development"}, wantName: "from-file", wantTTL: 2 * time.Second, wantProfile: Development},
		{desc: "env over file", args: []string{"--config", "f"}, env: map[string]string{"DSPYFLEET_NAME": "from-env", "DSPYFLEET_NODE_TTL": "3s"}, wantName: "from-env", wantTTL: 3 * time.Second},
		{desc: "flag over env", args: []string{"--config", "f", "--name", "from-flag"}, env: map[string]string{"DSPYFLEET_NAME": "from-env"}, wantName: "from-flag", wantTTL: time.Second},
		{desc: "flag before --config still wins", args: []string{"--name", "from-flag", "--config", "f"}, wantName: "from-flag", wantTTL: time.Second},
		{desc: "config path from env", env: map[string]string{"DSPYFLEET_CONFIG": "f"}, wantName: "from-file", wantTTL: time.Second},
		{desc: "alias below the canonical variable", env: map[string]string{"DSPYFLEET_OLD_NAME": "old", "DSPYFLEET_NAME": "new"}, wantName: "new", wantTTL: time.Second},
		{desc: "alias alone", env: map[string]string{"DSPYFLEET_OLD_NAME": "old"}, wantName: "old", wantTTL: time.Second},
		{desc: "stray argument", args: []string{"stray"}, wantErr: "unexpected arguments"},
		{desc: "unreadable file", args: []string{"--config", "missing"}, wantErr: "unexpected EOF"},
		{desc: "bad env value", env: map[string]string{"DSPYFLEET_NODE_TTL": "soon"}, wantErr: `DSPYFLEET_NODE_TTL="soon": invalid value for --node-ttl: parse error`},
		{desc: "unknown profile flag", args: []string{"--profile", "prod"}, wantErr: `--profile: profile "prod" must be development, staging or production`},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			l, err := parseLayered(tt.args, tt.env, tt.fileProfile)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want error %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || l.name != tt.wantName || l.ttl != tt.wantTTL || l.profile != tt.wantProfile {
				t.Fatalf("got name %q ttl %s profile %q err %v; want %q %s %q", l.name, l.ttl, l.profile, err, tt.wantName, tt.wantTTL, tt.wantProfile)
			}
		})
	}
}

func TestEnvName(t *testing.T) {
	if got := EnvName("node-ttl"); got != "DSPYFLEET_NODE_TTL" {
		t.Fatalf("EnvName = %q", got)
	}
}

func TestLogger(t *testing.T) {
	var b strings.Builder
	level, err := LevelVar("warn")
	if err != nil {
		t.Fatal(err)
	}
	l := Logger(level, "text", &b)
	l.Info("hidden")
	l.Warn("shown")
	level.Set(-4)
	l.Debug("now shown")
	if strings.Contains(b.String(), "hidden") || !strings.Contains(b.String(), "shown") || !strings.Contains(b.String(), "now shown") {
		t.Fatalf("log output %q", b.String())
	}
	if _, err := LevelVar("loud"); err == nil || !strings.Contains(err.Error(), "--log-level") {
		t.Fatalf("bad level: %v", err)
	}
	var j strings.Builder
	Logger(level, "json", &j).Info("as json", "k", 1)
	if !strings.HasPrefix(j.String(), "{") || !strings.Contains(j.String(), `"msg":"as json","k":1`) {
		t.Fatalf("json log output %q", j.String())
	}
	if CheckLogFormat("json") != nil || CheckLogFormat("text") != nil || CheckLogFormat("yaml") == nil {
		t.Fatal("CheckLogFormat accepts only text and json")
	}
}
