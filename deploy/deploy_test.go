// Package deploy_test checks that the deployment files agree with one another and with the
// daemons: each unit's commands, paths and hardening, the nfpm package contents, the default
// configs (read by the daemons' own parsers) and the install scripts.
package deploy_test

import (
	"os"
	"path"
	"slices"
	"strings"
	"testing"

	"github.com/coreos/go-systemd/v22/unit"
	"go.yaml.in/yaml/v3"

	"github.com/dspyfleet/dspyfleet/agent"
	"github.com/dspyfleet/dspyfleet/controlplane"
)

// nfpmConfig is the part of an nfpm configuration the checks read.
type nfpmConfig struct {
	Name     string `yaml:"name"`
	License  string `yaml:"license"`
	Contents []struct {
		Src  string `yaml:"src"`
		Dst  string `yaml:"dst"`
		Type string `yaml:"type"`
		Info struct {
			Mode int `yaml:"mode"`
		} `yaml:"file_info"`
	} `yaml:"contents"`
	Scripts struct {
		PostInstall string `yaml:"postinstall"`
		PreRemove   string `yaml:"preremove"`
	} `yaml:"scripts"`
}

// role is one daemon's deployment files and the data directory its config names.
type role struct {
	name    string
	dataDir func(t *testing.T, configPath string) string
}

var roles = []role{
	{"controlplane", func(t *testing.T, p string) string {
		f, err := controlplane.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		c := controlplane.ProfileConfig(f.Profile())
		if err := f.Check(c); err != nil {
			t.Fatal(err)
		}
		f.Apply(&c)
		return c.DataDir
	}},
	{"agent", func(t *testing.T, p string) string {
		f, err := agent.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		c := agent.ProfileConfig(f.Profile())
		if err := f.Check(c); err != nil {
			t.Fatal(err)
		}
		f.Apply(&c)
		return c.StateDir
	}},
}

func TestUnitsPackagesAndConfigsAgree(t *testing.T) {
	for _, r := range roles {
		t.Run(r.name, func(t *testing.T) {
			unitName := "dspyfleet-" + r.name + ".service"
			opts := readUnit(t, "systemd/"+unitName)
			for _, want := range []struct{ name, value string }{
				{"Type", "notify"}, {"NotifyAccess", "main"}, {"Restart", "on-failure"},
				{"ExecReload", "/bin/kill -HUP $MAINPID"}, {"User", "dspyfleet"}, {"Group", "dspyfleet"},
				{"NoNewPrivileges", "yes"}, {"ProtectSystem", "strict"}, {"PrivateTmp", "yes"},
				{"ProtectKernelModules", "yes"}, {"ConfigurationDirectory", "dspyfleet"},
			} {
				if got := opts[want.name]; len(got) != 1 || got[0] != want.value {
					t.Errorf("%s: %s=%q, want %q", unitName, want.name, got, want.value)
				}
			}
			for _, name := range []string{"WatchdogSec", "ProtectHome", "StateDirectory", "ReadWritePaths"} {
				if len(opts[name]) == 0 {
					t.Errorf("%s: no %s", unitName, name)
				}
			}
			stateDir := "/var/lib/" + opts["StateDirectory"][0]
			if rw := opts["ReadWritePaths"]; len(rw) != 1 || rw[0] != stateDir {
				t.Errorf("%s: ReadWritePaths=%q, want the state directory %s", unitName, rw, stateDir)
			}

			pkg := readNFPM(t, "nfpm/"+r.name+".yaml")
			if pkg.Name != "dspyfleet-"+r.name {
				t.Errorf("package name %q", pkg.Name)
			}
			dst := map[string]string{} // destination → type
			src := map[string]string{} // destination → source
			for _, c := range pkg.Contents {
				dst[c.Dst], src[c.Dst] = c.Type, c.Src
			}
			env := "/etc/default/" + pkg.Name
			for _, c := range pkg.Contents {
				if c.Dst == env && (c.Type != "config|noreplace" || c.Info.Mode != 0o600) {
					t.Errorf("%s is installed as %q mode %o; want a config|noreplace file 0600 (it may hold tokens)", env, c.Type, c.Info.Mode)
				}
			}
			if _, ok := dst[env]; !ok || !slices.Contains(opts["EnvironmentFile"], "-"+env) {
				t.Errorf("the package does not install %s, or %s does not read it (EnvironmentFile=%q)", env, unitName, opts["EnvironmentFile"])
			}
			if copyright := "/usr/share/doc/" + pkg.Name + "/copyright"; pkg.License != "Apache-2.0" || src[copyright] != "LICENSE" {
				t.Errorf("package license %q, %s from %q: want Apache-2.0 and the repository's LICENSE", pkg.License, copyright, src[copyright])
			}
			if _, ok := dst["/usr/lib/systemd/system/"+unitName]; !ok {
				t.Errorf("the package does not install %s", unitName)
			}
			for _, cmd := range []string{opts["ExecStart"][0], opts["ExecStartPre"][0]} {
				argv := strings.Fields(cmd)
				if _, ok := dst[argv[0]]; !ok {
					t.Errorf("%s runs %s, which the package does not install", unitName, argv[0])
				}
				if len(argv) < 3 || argv[len(argv)-2] != "--config" {
					t.Fatalf("%s: %q does not end with --config FILE", unitName, cmd)
				}
				configPath := argv[len(argv)-1]
				if typ, ok := dst[configPath]; !ok || typ != "config|noreplace" {
					t.Errorf("%s reads %s; the package installs it as %q, want a config|noreplace file", unitName, configPath, typ)
				}
			}

			config := "config/" + r.name + ".yaml"
			if got := r.dataDir(t, config); got != stateDir {
				t.Errorf("%s keeps data in %s, the unit lets it write %s", config, got, stateDir)
			}
			script := readFile(t, strings.TrimPrefix(pkg.Scripts.PostInstall, "deploy/"))
			for _, want := range []string{"useradd --system", "-o dspyfleet -g dspyfleet " + stateDir, "/etc/dspyfleet/" + r.name + ".yaml"} {
				if !strings.Contains(script, want) {
					t.Errorf("%s lacks %q", pkg.Scripts.PostInstall, want)
				}
			}
			if !strings.Contains(readFile(t, strings.TrimPrefix(pkg.Scripts.PreRemove, "deploy/")), "disable --now "+unitName) {
				t.Errorf("%s does not stop %s", pkg.Scripts.PreRemove, unitName)
			}
		})
	}
}

// readUnit parses a unit file with go-systemd's parser into name → values.
func readUnit(t *testing.T, p string) map[string][]string {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	opts, err := unit.Deserialize(f)
	if err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	out := map[string][]string{}
	for _, o := range opts {
		out[o.Name] = append(out[o.Name], o.Value)
	}
	return out
}

func readNFPM(t *testing.T, p string) nfpmConfig {
	t.Helper()
	var c nfpmConfig
	if err := yaml.Unmarshal([]byte(readFile(t, p)), &c); err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	return c
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(path.Clean(p))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
