package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// daemonConfig is the configuration of a made-up daemon for the File and Validate tests.
type daemonConfig struct {
	max   int
	token string
}

// daemonValues is the YAML form of daemonConfig.
type daemonValues struct {
	Profile *string `yaml:"profile"`
	Max     *int    `yaml:"max"`
	Token   *string `yaml:"token"`
}

func (v daemonValues) apply(c *daemonConfig) {
	if v.Max != nil {
		c.max = *v.Max
	}
	if v.Token != nil {
		c.token = *v.Token
	}
}

// daemonFile is the made-up daemon's parsed config file, a ConfigFile[daemonConfig].
type daemonFile struct{ file *File[daemonValues] }

func readDaemonFile(path string) (daemonFile, error) {
	f, err := ReadFile[daemonValues](path)
	return daemonFile{f}, err
}

func (f daemonFile) Profile() string { return Deref(f.file.Values.Profile) }

func (f daemonFile) Apply(c *daemonConfig) { f.file.Values.apply(c) }

func (f daemonFile) Check(base daemonConfig) error {
	return CheckFields(f.file.Name, f.file.Lines, f.file.Values, func(one daemonValues) error {
		c := base
		one.apply(&c)
		var err error
		if c.max > 100 {
			err = fmt.Errorf("--max %d must be at most 100", c.max)
		}
		return errors.Join(err, CheckProfile(Deref(one.Profile)))
	})
}

// writeConfig writes a config file holding body to a new temporary directory and returns its
// path.
func writeConfig(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "d.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestReadFile(t *testing.T) {
	path := writeConfig(t, "token: t\nmax: 3\n")
	f, err := ReadFile[daemonValues](path)
	if err != nil {
		t.Fatal(err)
	}
	if f.Name != path || f.Lines["max"] != 2 || Deref(f.Values.Max) != 3 || Deref(f.Values.Token) != "t" || f.Values.Profile != nil {
		t.Fatalf("read %+v", f)
	}
	if _, err := ReadFile[daemonValues](filepath.Join(t.TempDir(), "none.yaml")); err == nil || !strings.HasPrefix(err.Error(), "--config: open ") {
		t.Fatalf("missing file: %v", err)
	}
	if _, err := ParseFile[daemonValues]("d.yaml", []byte("max: many\n")); err == nil || !strings.HasPrefix(err.Error(), `d.yaml:1: max: want a whole number, got "many"`) {
		t.Fatalf("bad value: %v", err)
	}
}

func TestLoadFile(t *testing.T) {
	path := writeConfig(t, "max: 500\n")
	c := daemonConfig{token: "kept"}
	if err := LoadFile(readDaemonFile, path, &c); err != nil || c.max != 500 || c.token != "kept" {
		t.Fatalf("loaded %+v, %v; want max 500 (ranges unchecked), token kept", c, err)
	}
	if err := LoadFile(readDaemonFile, filepath.Join(t.TempDir(), "none.yaml"), &c); err == nil || !strings.Contains(err.Error(), "--config") {
		t.Fatalf("missing file: %v", err)
	}
}

func TestDeref(t *testing.T) {
	s := "x"
	if Deref(&s) != "x" || Deref[string](nil) != "" || Deref[int](nil) != 0 {
		t.Fatal("Deref")
	}
}
