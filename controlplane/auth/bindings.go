package auth

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/dspyfleet/dspyfleet/controlplane/store"
)

// Binding is a node bound to its own credential: once an agent registered a node with the
// node's per-node token or with a client certificate whose common name is the node id, the
// shared agent token (and every other node's credential) may no longer speak for it, online or
// not, across restarts, until an operator removes the binding (Unbind).
type Binding struct {
	// Node is the node id.
	Node string `json:"-"`
	// Credential is the credential the node was bound with: "token" (its per-node token) or
	// "certificate" (its client certificate).
	Credential string `json:"credential"`
	// Since is when the node was bound.
	Since time.Time `json:"since"`
}

// The credentials a node is bound with.
const (
	boundToken       = "token"
	boundCertificate = "certificate"
)

// describe names the binding's credential in messages.
func (b Binding) describe() string {
	if b.Credential == boundCertificate {
		return "client certificate"
	}
	return "per-node token"
}

// bindings are the node bindings of the node_bindings bucket, held in memory too: a Connect
// reads them without a transaction, and only a node's first binding writes.
type bindings struct {
	store *store.Store
	mu    sync.Mutex
	m     map[string]Binding
}

// loadBindings reads every binding.
func loadBindings(st *store.Store) (*bindings, error) {
	b := &bindings{store: st, m: map[string]Binding{}}
	err := st.View(func(tx *store.Tx) error {
		return tx.Bucket(store.NodeBindings).ForEach(func(k, v []byte) error {
			var nb Binding
			if err := json.Unmarshal(v, &nb); err != nil {
				return fmt.Errorf("%w: node binding %q: %v", store.ErrCorruptStore, k, err)
			}
			nb.Node = string(k)
			b.m[nb.Node] = nb
			return nil
		})
	})
	return b, err
}

// get returns node's binding.
func (b *bindings) get(node string) (Binding, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	nb, ok := b.m[node]
	return nb, ok
}

// bind binds node with credential at now unless it is bound already; the binding is written
// before bind returns, and a binding that cannot be written is an error.
func (b *bindings) bind(node, credential string, now time.Time) error {
	if _, ok := b.get(node); ok {
		return nil
	}
	nb := Binding{Node: node, Credential: credential, Since: now.UTC()}
	val, err := json.Marshal(nb)
	if err != nil {
		return err
	}
	// Two first sessions of one node at once both write the same kind of record; either
	// is the binding.
	if err := b.store.Update(func(tx *store.Tx) error { return tx.Bucket(store.NodeBindings).Put([]byte(node), val) }); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.m[node]; !ok {
		b.m[node] = nb
	}
	return nil
}

// ErrNotBound is Unbind's answer for a node that has no binding.
var ErrNotBound = errors.New("the node is not bound to a credential")

// Unbind removes the bindings of nodes from the state in st, for an operator who re-binds a
// node on purpose (`controlplane unbind-node`, with the control plane stopped): the node's next
// session may use any agent credential, and the first node-bound one binds it again. It returns
// the bindings removed, in the order of nodes; a node without one is ErrNotBound, joined for
// every such node, and the others are removed all the same.
func Unbind(st *store.Store, nodes []string) ([]Binding, error) {
	var removed []Binding
	var errs []error
	err := st.Update(func(tx *store.Tx) error {
		removed, errs = nil, nil
		bucket := tx.Bucket(store.NodeBindings)
		for _, node := range nodes {
			v := bucket.Get([]byte(node))
			if v == nil {
				errs = append(errs, fmt.Errorf("node %q: %w", node, ErrNotBound))
				continue
			}
			var nb Binding
			if err := json.Unmarshal(v, &nb); err != nil {
				return fmt.Errorf("%w: node binding %q: %v", store.ErrCorruptStore, node, err)
			}
			nb.Node = node
			removed = append(removed, nb)
			if err := bucket.Delete([]byte(node)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return removed, errors.Join(errs...)
}

// ListBindings returns every binding in the state in st, by node id.
func ListBindings(st *store.Store) ([]Binding, error) {
	b, err := loadBindings(st)
	if err != nil {
		return nil, err
	}
	out := make([]Binding, 0, len(b.m))
	for _, nb := range b.m {
		out = append(out, nb)
	}
	slices.SortFunc(out, func(x, y Binding) int { return cmp.Compare(x.Node, y.Node) })
	return out, nil
}
