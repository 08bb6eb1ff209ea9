package e2e

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/dspyfleet/dspyfleet"

// TestImportBoundaries enforces the layout of DESIGN.md: agent/ and controlplane/ never import
// each other, and pkg/ holds pure decisions on the standard library only (pkg/rules may use the
// CEL expression engine).
func TestImportBoundaries(t *testing.T) {
	rules := []struct {
		pattern, format string
		forbidden       func(pkg, dep string) bool
		why             string
	}{
		{"./agent/...", "Deps", func(_, d string) bool { return strings.HasPrefix(d, module+"/controlplane") }, "the agent must not import the control plane"},
		{"./controlplane/...", "Deps", func(_, d string) bool { return strings.HasPrefix(d, module+"/agent") }, "the control plane must not import the agent"},
		{"./pkg/...", "Imports", func(p, d string) bool {
			if p == module+"/pkg/rules" && strings.HasPrefix(d, "cel.dev/cel-go/") {
				return false
			}
			return strings.Contains(strings.Split(d, "/")[0], ".") && !strings.HasPrefix(d, module+"/pkg/")
		}, "pkg/ uses the standard library only"},
	}
	for _, r := range rules {
		out, err := goList(`{{.ImportPath}}: {{join .`+r.format+` " "}}`, r.pattern)
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", r.pattern, err, out)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if len(lines) < 2 {
			t.Fatalf("go list %s listed %d packages; the pattern matches nothing:\n%s", r.pattern, len(lines), out)
		}
		for _, line := range lines {
			pkg, deps, ok := strings.Cut(line, ": ")
			if !ok {
				continue
			}
			for _, d := range strings.Fields(deps) {
				if r.forbidden(pkg, d) {
					t.Errorf("%s imports %s: %s", pkg, d, r.why)
				}
			}
		}
	}
}

// controlPlaneLayers lists, for every package under controlplane/, the sibling packages it may
// import: subsystems talk to lower layers through their exported methods, never to a peer's
// internals, and nothing imports the wiring in controlplane/ itself. A new package fails the
// test until it is placed here.
var controlPlaneLayers = map[string][]string{
	"controlplane/store":       nil,
	"controlplane/check":       {"store"},
	"controlplane/fleet":       {"check"},
	"controlplane/stats":       {"store"},
	"controlplane/commands":    {"check", "store"},
	"controlplane/router":      {"check", "fleet", "stats", "store"},
	"controlplane/cost":        {"check", "fleet", "stats", "store"},
	"controlplane/scaling":     {"check", "commands", "fleet", "stats", "store"},
	"controlplane/alerts":      {"check", "commands", "fleet", "stats", "store"},
	"controlplane/maintenance": {"check", "commands", "fleet", "router", "store"},
	"controlplane/policy":      {"check", "cost", "router", "scaling", "store"},
	"controlplane/auth":        {"check", "store"},
	"controlplane/logs":        nil,
	"controlplane/api":         {"alerts", "auth", "check", "commands", "cost", "fleet", "logs", "maintenance", "policy", "router", "scaling", "stats"},
	"controlplane/ui":          {"auth", "stats"},
}

// TestControlPlaneLayers enforces controlPlaneLayers on the packages' own imports, tests
// included, and that the store is the only package under controlplane/ that imports bbolt.
func TestControlPlaneLayers(t *testing.T) {
	out, err := goList(`{{.ImportPath}}: {{join .Imports " "}} {{join .TestImports " "}} {{join .XTestImports " "}}`, "./controlplane/...")
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, deps, ok := strings.Cut(line, ": ")
		if !ok {
			continue
		}
		rel := strings.TrimPrefix(pkg, module+"/")
		allowed, known := controlPlaneLayers[rel]
		if rel != "controlplane" && !known {
			t.Errorf("%s is not in controlPlaneLayers: place it in a layer", rel)
			continue
		}
		checked++
		for _, d := range strings.Fields(deps) {
			if d == "go.etcd.io/bbolt" && rel != "controlplane/store" {
				t.Errorf("%s imports bbolt: only controlplane/store may; use store.Tx", rel)
			}
			sib, isSib := strings.CutPrefix(d, module+"/controlplane/")
			switch {
			case rel == "controlplane" || d == pkg:
			case d == module+"/controlplane":
				t.Errorf("%s imports the control plane's wiring package", rel)
			case isSib && !slices.Contains(allowed, strings.Split(sib, "/")[0]):
				t.Errorf("%s imports controlplane/%s, which its layer does not allow (%v)", rel, sib, allowed)
			}
		}
	}
	if checked < len(controlPlaneLayers) {
		t.Errorf("go list listed %d packages under controlplane/, want at least %d:\n%s", checked, len(controlPlaneLayers), out)
	}
}

// goList runs go list with format over pattern from the module root (tests run in e2e/).
func goList(format, pattern string) ([]byte, error) {
	cmd := exec.Command("go", "list", "-e", "-f", format, pattern)
	cmd.Dir = ".."
	return cmd.CombinedOutput()
}
