package maintenance

import (
	"cmp"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/dspyfleet/dspyfleet/controlplane/check"
	"github.com/dspyfleet/dspyfleet/controlplane/commands"
	"github.com/dspyfleet/dspyfleet/controlplane/fleet"
	"github.com/dspyfleet/dspyfleet/controlplane/router"
	"github.com/dspyfleet/dspyfleet/controlplane/store"
)

// executor is what the deployer and the maintenance windows act with: the store their runs are
// kept in, the registry and command queue they drain and act on nodes through, the router whose
// weights they override, and how long a node is kept out of routing before it is drained (so
// clients that picked it just before finish sending to it).
type executor struct {
	store      *store.Store
	reg        *fleet.Registry
	cmds       *commands.Queue
	router     *router.Router
	now        func() time.Time
	log        *slog.Logger
	drainGrace time.Duration
}

// record is a deployment's or a maintenance window's API message.
type record interface {
	proto.Message
	GetId() string
}

// run is one deployment or window in memory: its record, the pool it works on and the
// time-ordered key it is stored under.
type run[M record] interface {
	record() M
	pool() string
	storeKey() []byte
}

// runSet holds the runs of one kind by id under one lock, with the watchers of each run: what
// the deployer and the maintenance windows share. Each embeds one and calls init.
type runSet[M record, R run[M]] struct {
	what, listWith string // for the not-found error: "deployment", "fleetctl deploy status"

	mu       sync.Mutex
	runs     map[string]R
	watchers map[string]map[chan M]struct{}
}

// init makes the set empty; what names a run in errors and listWith the command that lists them.
func (s *runSet[M, R]) init(what, listWith string) {
	s.what, s.listWith = what, listWith
	s.runs = make(map[string]R)
	s.watchers = make(map[string]map[chan M]struct{})
}

// lookupLocked returns the run of id.
func (s *runSet[M, R]) lookupLocked(id string) (R, error) {
	r, ok := s.runs[id]
	if !ok {
		return r, fmt.Errorf("%w: no %s %q; list them with %s", check.ErrNotFound, s.what, check.Truncate(id), s.listWith)
	}
	return r, nil
}

// Get returns a copy of the record of id.
func (s *runSet[M, R]) Get(id string) (M, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.lookupLocked(id)
	if err != nil {
		var zero M
		return zero, err
	}
	return proto.Clone(r.record()).(M), nil
}

// List returns copies of the records of pool ("" for all), newest first.
func (s *runSet[M, R]) List(pool string) []M {
	s.mu.Lock()
	defer s.mu.Unlock()
	var runs []R
	for _, r := range s.runs {
		if pool == "" || r.pool() == pool {
			runs = append(runs, r)
		}
	}
	slices.SortFunc(runs, func(a, b R) int { return -cmp.Compare(string(a.storeKey()), string(b.storeKey())) })
	out := make([]M, len(runs))
	for i, r := range runs {
		out[i] = proto.Clone(r.record()).(M)
	}
	return out
}

// Watch registers a watcher of id and returns the record as it is now. The channel holds the
// latest change only: a slow watcher skips states, never holds the executor up.
func (s *runSet[M, R]) Watch(id string) (chan M, M, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.lookupLocked(id)
	if err != nil {
		var zero M
		return nil, zero, err
	}
	ch := make(chan M, 1)
	if s.watchers[id] == nil {
		s.watchers[id] = make(map[chan M]struct{})
	}
	s.watchers[id][ch] = struct{}{}
	return ch, proto.Clone(r.record()).(M), nil
}

// Unwatch removes a watcher.
func (s *runSet[M, R]) Unwatch(id string, ch chan M) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.watchers[id], ch)
	if len(s.watchers[id]) == 0 {
		delete(s.watchers, id)
	}
}

// publishLocked hands r's record to its watchers, replacing one they have not read yet.
func (s *runSet[M, R]) publishLocked(r R) {
	rec := r.record()
	for ch := range s.watchers[rec.GetId()] {
		select {
		case <-ch:
		default:
		}
		ch <- proto.Clone(rec).(M)
	}
}
