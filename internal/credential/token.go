package credential

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"unicode"
)

// MinTokenLen is the shortest token accepted: 16 bytes of text, enough that guessing within any
// rate limit is hopeless. Generate one with `openssl rand -hex 32`.
const MinTokenLen = 16

// maxTokenLen bounds a token so a wrong file (a key, a log) is refused rather than sent.
const maxTokenLen = 4096

// ErrBadToken marks a token that is empty, too short, too long or holds white space or control
// characters.
var ErrBadToken = errors.New("bad token")

// Token is a bearer secret. Its String, GoString and LogValue never show the value, so a Token
// in a log line, an error or a printed config stays hidden.
type Token struct{ v string }

// IsZero reports whether no token is set.
func (t Token) IsZero() bool { return t.v == "" }

// String implements fmt.Stringer without revealing the token.
func (t Token) String() string {
	if t.v == "" {
		return "(none)"
	}
	return "(redacted)"
}

// GoString implements fmt.GoStringer without revealing the token.
func (t Token) GoString() string { return "credential.Token" + t.String() }

// LogValue implements slog.LogValuer without revealing the token.
func (t Token) LogValue() slog.Value { return slog.StringValue(t.String()) }

// Equal reports whether s is the token, in time that depends on neither's content nor length:
// both are hashed before the constant-time comparison. A zero Token equals nothing.
func (t Token) Equal(s string) bool {
	if t.v == "" {
		return false
	}
	a, b := sha256.Sum256([]byte(t.v)), sha256.Sum256([]byte(s))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// ParseToken reads a token from the content of a token file or variable: surrounding white
// space (the file's trailing newline) is dropped; the rest must be MinTokenLen to 4096
// printable characters without white space.
func ParseToken(data []byte) (Token, error) {
	s := string(bytes.TrimSpace(data))
	switch {
	case s == "":
		return Token{}, fmt.Errorf("%w: it is empty", ErrBadToken)
	case len(s) < MinTokenLen:
		return Token{}, fmt.Errorf("%w: it has %d characters, at least %d are needed; generate one with: openssl rand -hex 32", ErrBadToken, len(s), MinTokenLen)
	case len(s) > maxTokenLen:
		return Token{}, fmt.Errorf("%w: it has %d bytes, at most %d are allowed", ErrBadToken, len(s), maxTokenLen)
	case strings.ContainsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }):
		return Token{}, fmt.Errorf("%w: it holds white space or control characters; a token is one word", ErrBadToken)
	}
	return Token{v: s}, nil
}

// ReadTokenFile reads the token in the file at path, reading no more than a token can hold
// (plus white space), so a wrong path such as a device cannot hang it. Errors name the path,
// never the content.
func ReadTokenFile(path string) (Token, error) {
	f, err := os.Open(path)
	if err != nil {
		return Token{}, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, 2*maxTokenLen))
	if err != nil {
		return Token{}, fmt.Errorf("token file %s: %w", path, err)
	}
	t, err := ParseToken(data)
	if err != nil {
		return Token{}, fmt.Errorf("token file %s: %w", path, err)
	}
	return t, nil
}

// TokenFromEnv reads the token in the environment variable name; unset or empty gives a zero
// Token and no error.
func TokenFromEnv(name string) (Token, error) {
	v := os.Getenv(name)
	if v == "" {
		return Token{}, nil
	}
	t, err := ParseToken([]byte(v))
	if err != nil {
		return Token{}, fmt.Errorf("$%s: %w", name, err)
	}
	return t, nil
}

// Matches reports whether u is the same non-zero token as t.
func (t Token) Matches(u Token) bool { return !u.IsZero() && t.Equal(u.v) }
