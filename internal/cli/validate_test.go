package cli

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// daemonProfile gives development a token, so that a file checked over it names none.
func daemonProfile(profile string) daemonConfig {
	c := daemonConfig{max: 10}
	if profile == Development {
		c.token = "dev-token"
	}
	return c
}

func checkToken(c daemonConfig) error {
	if c.token == "" {
		return errors.New("--token: none given")
	}
	return nil
}

func TestValidate(t *testing.T) {
	dev := writeConfig(t, "profile: development\nmax: 50\n")
	tok := writeConfig(t, "token: t\n")
	rng := writeConfig(t, "token: t\nmax: 500\n")
	typo := writeConfig(t, "mxa: 1\n")
	prof := writeConfig(t, "profile: prod\n")
	tests := []struct {
		desc    string
		args    []string
		wantOut string
		wantErr string
	}{
		{desc: "valid over the file's profile", args: []string{"--config", dev}, wantOut: dev + ": valid\n"},
		{desc: "valid with a token", args: []string{"--config", tok}, wantOut: tok + ": valid\n"},
		{desc: "--profile over the file's", args: []string{"--config", dev, "--profile", Staging}, wantErr: dev + ": --token: none given"},
		{desc: "out of range", args: []string{"--config", rng}, wantErr: rng + ":2: max: --max 500 must be at most 100"},
		{desc: "unknown key", args: []string{"--config", typo}, wantErr: typo + ":1: mxa: unknown field"},
		{desc: "wrong profile key", args: []string{"--config", prof}, wantErr: prof + `:1: profile: profile "prod" must be`},
		{desc: "wrong --profile", args: []string{"--config", dev, "--profile", "prod"}, wantErr: `--profile: profile "prod" must be development, staging or production`},
		{desc: "no file", args: nil, wantErr: "usage: daemon validate --config FILE [--profile NAME]"},
		{desc: "stray argument", args: []string{"--config", dev, "stray"}, wantErr: "usage: daemon validate --config FILE [--profile NAME]"},
		{desc: "missing file", args: []string{"--config", filepath.Join(t.TempDir(), "none.yaml")}, wantErr: "--config: open "},
		{desc: "unknown flag", args: []string{"--confg", dev}, wantErr: "flag provided but not defined: -confg"},
	}
	v := Validate[daemonConfig, daemonFile]{
		Program:          "daemon",
		ReadFile:         readDaemonFile,
		ProfileConfig:    daemonProfile,
		CheckCredentials: checkToken,
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			var stdout, stderr strings.Builder
			err := v.Run(tt.args, &stdout, &stderr)
			if tt.wantErr == "" {
				if err != nil || stdout.String() != tt.wantOut {
					t.Fatalf("got %v and output %q, want %q", err, stdout.String(), tt.wantOut)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) || stdout.Len() > 0 {
				t.Fatalf("got %v and output %q, want error %q", err, stdout.String(), tt.wantErr)
			}
		})
	}
}
