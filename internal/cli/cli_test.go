package cli

import (
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
)

func TestParseLayersFlagsOverConfig(t *testing.T) {
	tests := []struct {
		args    []string
		want    string
		wantErr string
	}{
		{nil, "default", ""},
		{[]string{"--config", "f"}, "from-file", ""},
		{[]string{"--config", "f", "--name", "from-flag"}, "from-flag", ""},
		{[]string{"--name", "from-flag", "--config", "f"}, "from-flag", ""},
		{[]string{"stray"}, "", "unexpected arguments"},
		{[]string{"--config", "bad"}, "", "no such file"},
	}
	for _, tt := range tests {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		name := fs.String("name", "default", "")
		config := fs.String("config", "", "")
		err := Parse(fs, tt.args, config, func(path string) error {
			if path == "bad" {
				return errors.New("no such file")
			}
			*name = "from-file"
			return nil
		})
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Parse(%v) = %v, want error %q", tt.args, err, tt.wantErr)
			}
			continue
		}
		if err != nil || *name != tt.want {
			t.Errorf("Parse(%v): name %q, err %v; want %q", tt.args, *name, err, tt.want)
		}
	}
}

func TestLogger(t *testing.T) {
	var b strings.Builder
	l, err := Logger("warn", &b)
	if err != nil {
		t.Fatal(err)
	}
	l.Info("hidden")
	l.Warn("shown")
	if strings.Contains(b.String(), "hidden") || !strings.Contains(b.String(), "shown") {
		t.Fatalf("log output %q", b.String())
	}
	if _, err := Logger("loud", &b); err == nil || !strings.Contains(err.Error(), "--log-level") {
		t.Fatalf("bad level: %v", err)
	}
}
