package e2e

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/dspyfleet/dspyfleet"

// TestImportBoundaries enforces the layout of DESIGN.md: agent/ and controlplane/ never import
// each other, and pkg/ holds pure decisions on the standard library only.
func TestImportBoundaries(t *testing.T) {
	rules := []struct {
		pattern   string
		forbidden func(dep string) bool
		why       string
	}{
		{"./agent/...", func(d string) bool { return strings.HasPrefix(d, module+"/controlplane") }, "the agent must not import the control plane"},
		{"./controlplane/...", func(d string) bool { return strings.HasPrefix(d, module+"/agent") }, "the control plane must not import the agent"},
		{"./pkg/...", func(d string) bool { return strings.Contains(strings.Split(d, "/")[0], ".") }, "pkg/ uses the standard library only"},
	}
	for _, r := range rules {
		out, err := exec.Command("go", "list", "-e", "-f", `{{.ImportPath}}: {{join .Deps " "}}`, r.pattern).CombinedOutput()
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", r.pattern, err, out)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			pkg, deps, ok := strings.Cut(line, ": ")
			if !ok {
				continue
			}
			for _, d := range strings.Fields(deps) {
				if r.forbidden(d) {
					t.Errorf("%s imports %s: %s", pkg, d, r.why)
				}
			}
		}
	}
}
