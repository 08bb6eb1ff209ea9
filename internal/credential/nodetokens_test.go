package credential

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseNodeTokens(t *testing.T) {
	good := "# fleet\n\nn1 tok-n1-0123456789abcdef\n  n2\ttok-n2-0123456789abcdef  \n"
	n, err := ParseNodeTokens([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if node, ok := n.Node("tok-n2-0123456789abcdef"); !ok || node != "n2" {
		t.Fatalf("Node = %q, %v", node, ok)
	}
	if node, ok := n.Node("tok-n1-0123456789abcdef"); !ok || node != "n1" {
		t.Fatalf("Node = %q, %v", node, ok)
	}
	if _, ok := n.Node("tok-n3-0123456789abcdef"); ok {
		t.Fatal("unknown token found")
	}
	if !n.HasNode("n1") || !n.HasNode("n2") || n.HasNode("n3") || n.HasNode("fleet") {
		t.Fatal("HasNode does not match the file's nodes")
	}
	for name, bad := range map[string]string{
		"one field":       "n1\n",
		"three fields":    "n1 tok-0123456789abcdef x\n",
		"short token":     "n1 short\n",
		"node twice":      "n1 tok-a-0123456789abcdef\nn1 tok-b-0123456789abcdef\n",
		"token twice":     "n1 tok-a-0123456789abcdef\nn2 tok-a-0123456789abcdef\n",
		"very long token": "n1 " + strings.Repeat("x", 3*maxTokenLen) + "\n",
	} {
		_, err := ParseNodeTokens([]byte(bad))
		if err == nil || strings.Contains(err.Error(), "0123456789abcdef") {
			t.Errorf("%s: %v (want an error that shows no token)", name, err)
		}
	}
}

func TestNodeTokenFileReloads(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agents.tokens")
	write := func(s string, at time.Time) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, at, at); err != nil {
			t.Fatal(err)
		}
	}
	write("n1 tok-n1-0123456789abcdef\n", time.Now())
	f, err := OpenNodeTokenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var reloads []error
	f.OnReload = func(err error) { reloads = append(reloads, err) }

	write("n1 tok-n1-0123456789abcdef\nn2 tok-n2-0123456789abcdef\n", time.Now().Add(time.Minute))
	if _, ok := f.Tokens().Node("tok-n2-0123456789abcdef"); ok {
		t.Fatal("re-read within a second of the last check")
	}
	f.checked = time.Time{}
	if node, ok := f.Tokens().Node("tok-n2-0123456789abcdef"); !ok || node != "n2" {
		t.Fatal("the added node's token is not found after the file changed")
	}
	write("garbage\n", time.Now().Add(2*time.Minute))
	f.checked = time.Time{}
	if _, ok := f.Tokens().Node("tok-n2-0123456789abcdef"); !ok {
		t.Fatal("a file that does not parse replaced the tokens")
	}
	f.checked = time.Time{}
	f.Tokens()
	if len(reloads) != 2 || reloads[0] != nil || reloads[1] == nil {
		t.Fatalf("reloads reported: %v (a bad version must be reported once)", reloads)
	}
	if _, err := OpenNodeTokenFile(path); err == nil {
		t.Fatal("opening a bad file: no error")
	}
}

// FuzzParseNodeTokens: any file gives tokens or an error; a parsed file maps each of its
// tokens back to its node.
func FuzzParseNodeTokens(f *testing.F) {
	f.Add([]byte("n1 tok-n1-0123456789abcdef\n# c\nn2 tok-n2-0123456789abcdef\n"))
	f.Add([]byte("n1\n"))
	f.Add([]byte("\xff tok\x00-0123456789abcdef\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := ParseNodeTokens(data)
		if err != nil {
			return
		}
		for _, line := range strings.Split(string(data), "\n") {
			fields := strings.Fields(line)
			if len(fields) == 2 && !strings.HasPrefix(strings.TrimSpace(line), "#") {
				if node, ok := n.Node(fields[1]); !ok || node != fields[0] {
					t.Fatalf("token of line %q maps to %q, %v", line, node, ok)
				}
			}
		}
	})
}
