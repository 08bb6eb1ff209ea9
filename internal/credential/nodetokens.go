package credential

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

// NodeTokens maps per-node agent tokens to the node each is bound to. Lookups hash the
// presented token and find the hash, so the time they take does not depend on how much of a
// token matches.
type NodeTokens struct {
	byHash map[[sha256.Size]byte]string
	nodes  map[string]bool
}

// Node returns the node the token tok is bound to.
func (n *NodeTokens) Node(tok string) (string, bool) {
	node, ok := n.byHash[sha256.Sum256([]byte(tok))]
	return node, ok
}

// HasNode reports whether node has a token.
func (n *NodeTokens) HasNode(node string) bool { return n.nodes[node] }

// Has reports whether t is one of the tokens.
func (n *NodeTokens) Has(t Token) bool {
	_, ok := n.Node(t.v)
	return !t.IsZero() && ok
}

// ParseNodeTokens reads a per-node token file: one "<node id> <token>" per line; blank lines
// and lines starting with # are skipped. Each token follows ParseToken's rules; a node or a
// token given twice is an error. Errors name the line, never a token.
func ParseNodeTokens(data []byte) (*NodeTokens, error) {
	seen := map[string]bool{}
	n := &NodeTokens{byHash: map[[sha256.Size]byte]string{}, nodes: seen}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 2*maxTokenLen)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		fields := strings.Fields(text)
		if len(fields) != 2 {
			return nil, fmt.Errorf("line %d: want \"<node id> <token>\", got %d fields", line, len(fields))
		}
		tok, err := ParseToken([]byte(fields[1]))
		if err != nil {
			return nil, fmt.Errorf("line %d (node %q): %w", line, fields[0], err)
		}
		h := sha256.Sum256([]byte(tok.v))
		if seen[fields[0]] {
			return nil, fmt.Errorf("line %d: node %q has a token already", line, fields[0])
		}
		if _, dup := n.byHash[h]; dup {
			return nil, fmt.Errorf("line %d (node %q): the token is another node's too; every node needs its own", line, fields[0])
		}
		seen[fields[0]] = true
		n.byHash[h] = fields[0]
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadToken, err)
	}
	return n, nil
}

// NodeTokenFile serves the per-node tokens in a file and re-reads it, at most once a second,
// when it changes: nodes can be added without a restart. A change that does not parse leaves
// the previous tokens in use.
type NodeTokenFile struct {
	path string
	// OnReload, when set, is told of every reload: nil for success, else why the previous
	// tokens stay in use.
	OnReload func(err error)

	mu      sync.Mutex
	tokens  *NodeTokens
	stamp   stamp
	checked time.Time
}

// OpenNodeTokenFile reads the file once, failing if it does not parse.
func OpenNodeTokenFile(path string) (*NodeTokenFile, error) {
	f := &NodeTokenFile{path: path}
	st, err := stampOf(path)
	if err != nil {
		return nil, err
	}
	if f.tokens, err = readNodeTokens(path); err != nil {
		return nil, err
	}
	f.stamp, f.checked = st, time.Now()
	return f, nil
}

func readNodeTokens(path string) (*NodeTokens, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	n, err := ParseNodeTokens(data)
	if err != nil {
		return nil, fmt.Errorf("per-node token file %s: %w", path, err)
	}
	return n, nil
}

// Tokens returns the current tokens, re-reading the file if it changed.
func (f *NodeTokenFile) Tokens() *NodeTokens {
	f.mu.Lock()
	defer f.mu.Unlock()
	if time.Since(f.checked) < time.Second {
		return f.tokens
	}
	f.checked = time.Now()
	st, err := stampOf(f.path)
	if err == nil && st == f.stamp {
		return f.tokens
	}
	var n *NodeTokens
	if err == nil {
		// A version that does not parse is reported once, not every second.
		f.stamp = st
		n, err = readNodeTokens(f.path)
	}
	if err != nil {
		if f.OnReload != nil {
			f.OnReload(err)
		}
		return f.tokens
	}
	f.tokens, f.stamp = n, st
	if f.OnReload != nil {
		f.OnReload(nil)
	}
	return f.tokens
}
