package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBashCompletion sources "fleetctl completion bash" in a real bash and completes commands,
// subcommands and flags, also after a flag's value.
func TestBashCompletion(t *testing.T) {
	res := runCLI(t, "completion", "bash")
	if res.code != exitOK {
		t.Fatalf("completion bash: %+v", res)
	}
	script := filepath.Join(t.TempDir(), "fleetctl.bash")
	if err := os.WriteFile(script, []byte(res.stdout), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ line, want string }{
		{"fleetctl no", "nodes"},
		{"fleetctl nodes li", "list"},
		{"fleetctl nodes list --po", "--pool"},
		{"fleetctl nodes list --pool web --st", "--state"},
		{"fleetctl cost budget s", "set"},
		{"fleetctl tls cert create --ag", "--agent"},
		{"fleetctl -o json cmd se", "send"},
		{"fleetctl completion ", ""},
	} {
		words := strings.Fields(tt.line)
		if strings.HasSuffix(tt.line, " ") {
			words = append(words, "")
		}
		prog := `source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]}-1)); _fleetctl; echo "${COMPREPLY[*]}"`
		out, err := exec.Command("bash", append([]string{"-c", prog, "bash", script}, words...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("%q: %v\n%s", tt.line, err, out)
		}
		if got := strings.TrimSpace(string(out)); got != tt.want {
			t.Errorf("%q completes to %q, want %q", tt.line, got, tt.want)
		}
	}
}

// TestFishAndZshCompletion: the fish script completes each command path's subcommands and flags;
// the zsh script is the bash one behind bashcompinit; an unknown shell is a usage error.
func TestFishAndZshCompletion(t *testing.T) {
	fish := runCLI(t, "completion", "fish")
	for _, want := range []string{
		"complete -c fleetctl -n '__fish_use_subcommand' -a 'alerts audit backup",
		"complete -c fleetctl -n '__fleetctl_path nodes' -a 'drain get list undrain watch'",
		"complete -c fleetctl -n '__fleetctl_path nodes list' -l pool",
		"function __fleetctl_path",
	} {
		if !strings.Contains(fish.stdout, want) {
			t.Errorf("fish completion lacks %q", want)
		}
	}
	zsh := runCLI(t, "completion", "zsh")
	if !strings.HasPrefix(zsh.stdout, "autoload -U +X bashcompinit && bashcompinit\n") || !strings.Contains(zsh.stdout, "complete -o default -F _fleetctl fleetctl") {
		t.Errorf("zsh completion:\n%s", zsh.stdout)
	}
	if res := runCLI(t, "completion", "tcsh"); res.code != exitUsage || !strings.Contains(res.stderr, "unknown shell") {
		t.Errorf("completion tcsh: %+v", res)
	}
}
