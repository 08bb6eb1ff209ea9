package e2e

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestREADMEArchitectureNamesEveryPackage: the README's architecture section names every
// subsystem package under controlplane/ and every package under pkg/, and nothing that is not
// one, so the map does not drift from the code.
func TestREADMEArchitectureNamesEveryPackage(t *testing.T) {
	raw, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, arch, ok := strings.Cut(string(raw), "## Architecture\n")
	if !ok {
		t.Fatal("README.md has no Architecture section")
	}
	arch, _, _ = strings.Cut(arch, "\n## ")
	bullet := func(prefix string) string {
		_, b, ok := strings.Cut(arch, "\n- `"+prefix)
		if !ok {
			t.Fatalf("the Architecture section has no bullet on %s", prefix)
		}
		b, _, _ = strings.Cut(b, "\n- ")
		return b
	}
	dirs := func(root string) []string {
		entries, err := os.ReadDir("../" + root)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range entries {
			if e.IsDir() {
				out = append(out, e.Name())
			}
		}
		return out
	}
	_, subsystems, _ := strings.Cut(bullet("controlplane/`"), "Its subsystems are\n  packages under it (")
	subsystems, _, _ = strings.Cut(subsystems, ")")
	var named []string
	for _, m := range regexp.MustCompile("`([a-z]+)`").FindAllStringSubmatch(subsystems, -1) {
		named = append(named, m[1])
	}
	slices.Sort(named)
	if want := dirs("controlplane"); !slices.Equal(named, want) {
		t.Errorf("the README names controlplane subsystems %v, the code has %v", named, want)
	}
	named = nil
	for _, m := range regexp.MustCompile("`pkg/([a-z]+)`").FindAllStringSubmatch(bullet("pkg/`"), -1) {
		named = append(named, m[1])
	}
	slices.Sort(named)
	if want := dirs("pkg"); !slices.Equal(named, want) {
		t.Errorf("the README names pkg/ packages %v, the code has %v", named, want)
	}
}
