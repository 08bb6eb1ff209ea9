package credential

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const secret = "s3cret-0123456789abcdef"

func TestParseToken(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // "" means an error
	}{
		{secret + "\n", secret},
		{"  " + secret + "\r\n", secret},
		{"", ""},
		{"short", ""},
		{"two words-0123456789abcdef", ""},
		{"ctl\x01-0123456789abcdef", ""},
		{strings.Repeat("x", maxTokenLen+1), ""},
	} {
		tok, err := ParseToken([]byte(tc.in))
		switch {
		case tc.want == "" && !errors.Is(err, ErrBadToken):
			t.Errorf("ParseToken(%q) = %v, want ErrBadToken", tc.in, err)
		case tc.want != "" && (err != nil || !tok.Equal(tc.want)):
			t.Errorf("ParseToken(%q) = %v, want %q", tc.in, err, tc.want)
		}
	}
}

func TestTokenNeverShown(t *testing.T) {
	tok, err := ParseToken([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "token", tok)
	out := fmt.Sprintf("%v %+v %#v %s %q", tok, tok, tok, tok, tok) + buf.String()
	if strings.Contains(out, secret) {
		t.Fatalf("token shown: %s", out)
	}
	if tok.Equal("") || tok.Equal(secret+"x") || (Token{}).Equal("") || !tok.Equal(secret) {
		t.Fatal("Equal is wrong")
	}
	if tok.Matches(Token{}) || !tok.Matches(tok) {
		t.Fatal("Matches is wrong")
	}
}

func TestReadTokenFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	bad := filepath.Join(dir, "bad")
	if err := os.WriteFile(good, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("tiny-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if tok, err := ReadTokenFile(good); err != nil || !tok.Equal(secret) {
		t.Fatalf("good file: %v", err)
	}
	_, err := ReadTokenFile(bad)
	if err == nil || !strings.Contains(err.Error(), bad) || strings.Contains(err.Error(), "tiny-secret") {
		t.Fatalf("bad file error must name the file, not the content: %v", err)
	}
	t.Setenv("DSPYFLEET_TEST_TOKEN", secret)
	if tok, err := TokenFromEnv("DSPYFLEET_TEST_TOKEN"); err != nil || !tok.Equal(secret) {
		t.Fatalf("env: %v", err)
	}
	if tok, err := TokenFromEnv("DSPYFLEET_TEST_UNSET"); err != nil || !tok.IsZero() {
		t.Fatalf("unset env: %v", err)
	}
}

// FuzzParseToken checks that any file content gives a valid token or ErrBadToken, and that a
// parsed token equals its own text and stays hidden.
func FuzzParseToken(f *testing.F) {
	f.Add([]byte(secret + "\n"))
	f.Add([]byte(""))
	f.Add([]byte("\xff\xfe-0123456789abcdef"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tok, err := ParseToken(data)
		if err != nil {
			if !errors.Is(err, ErrBadToken) {
				t.Fatalf("error without ErrBadToken: %v", err)
			}
			return
		}
		s := string(bytes.TrimSpace(data))
		if !tok.Equal(s) || len(s) < MinTokenLen || strings.Contains(tok.String(), s) {
			t.Fatalf("token %q mishandled", s)
		}
	})
}
