package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
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

// TestREADMEDiagramMatchesTheAPI: the README's architecture diagram is drawn straight (every
// line of a box as wide as its top) and names exactly the gRPC services the protos define.
func TestREADMEDiagramMatchesTheAPI(t *testing.T) {
	raw, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, arch, _ := strings.Cut(string(raw), "## Architecture\n\n```\n")
	diagram, _, ok := strings.Cut(arch, "```")
	if !ok {
		t.Fatal("the Architecture section has no diagram")
	}
	lines := strings.Split(strings.TrimRight(diagram, "\n"), "\n")
	width := 0
	for i, l := range lines {
		if !strings.ContainsAny(l, "│┌└") {
			continue
		}
		w := utf8.RuneCountInString(l)
		if width == 0 {
			width = w
		}
		if w != width {
			t.Errorf("diagram line %d is %d runes wide, the box's top %d: %q", i+1, w, width, l)
		}
	}
	var boxed strings.Builder
	for _, l := range lines {
		// The control plane's box is the last one on a line: its text runs from the
		// next-to-last bar to the last.
		body, ok := strings.CutSuffix(l, "│")
		if i := strings.LastIndex(body, "│"); ok && i >= 0 {
			boxed.WriteString(strings.TrimSpace(body[i+len("│"):]) + " ")
		}
	}
	_, services, ok := strings.Cut(boxed.String(), "gRPC services: ")
	if !ok {
		t.Fatal("the diagram does not list the gRPC services")
	}
	services, _, _ = strings.Cut(services, " fleet (")
	var named []string
	for s := range strings.SplitSeq(services, ",") {
		named = append(named, strings.TrimSpace(s)+"Service")
	}
	slices.Sort(named)
	protos, err := filepath.Glob("../proto/dspyfleet/v1/*.proto")
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, p := range protos {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range regexp.MustCompile(`(?m)^service (\w+) \{`).FindAllStringSubmatch(string(b), -1) {
			want = append(want, m[1])
		}
	}
	slices.Sort(want)
	if !slices.Equal(named, want) {
		t.Errorf("the diagram names services %v, the protos define %v", named, want)
	}
}
