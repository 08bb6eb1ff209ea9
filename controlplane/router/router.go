package router

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/dspyfleet/dspyfleet/controlplane/check"
	"github.com/dspyfleet/dspyfleet/controlplane/fleet"
	"github.com/dspyfleet/dspyfleet/controlplane/stats"
	"github.com/dspyfleet/dspyfleet/controlplane/store"
	"github.com/dspyfleet/dspyfleet/pkg/reqstats"
	"github.com/dspyfleet/dspyfleet/pkg/routing"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// figuresWindow is how far back the agent-reported latency and error figures routing judges
// nodes by reach.
const figuresWindow = 2 * time.Minute

// Router holds one routing.Pool per pool and keeps it in step with the registry: at once on
// every node event (drain, down, new node), and with the agents' request figures on every
// Reconcile tick.
type Router struct {
	reg   *fleet.Registry
	stats *stats.Requests
	store *store.Store
	now   func() time.Time
	log   *slog.Logger

	mu       sync.RWMutex
	pools    map[string]*poolRoute
	Policies map[string]*fleetv1.RoutingPolicy // stored policies by pool
	figures  map[string]nodeFigures            // by node id, from the last reconcile tick
	seed     uint64

	overrides map[string]map[string]RouteOverride // by owner (a deployment), then node id
}

// poolRoute is one pool's routing state and the watchers of its endpoint set.
type poolRoute struct {
	name     string
	mu       sync.Mutex
	pool     *routing.Pool
	watchers map[chan *fleetv1.WatchEndpointsResponse]struct{}
}

// nodeFigures are a node's recent request figures as its agent reported them.
type nodeFigures struct {
	p95              time.Duration
	requests, errors uint64
}

// New loads the stored policies.
func New(reg *fleet.Registry, stats *stats.Requests, st *store.Store, now func() time.Time, log *slog.Logger) (*Router, error) {
	rt := &Router{reg: reg, stats: stats, store: st, now: now, log: log,
		pools: make(map[string]*poolRoute), Policies: make(map[string]*fleetv1.RoutingPolicy),
		figures: make(map[string]nodeFigures), seed: uint64(time.Now().UnixNano())}
	err := st.View(func(tx *store.Tx) error {
		return store.EachProto(tx.Bucket(store.RoutingPolicies), "routing policy of pool", func(k []byte, pp *fleetv1.RoutingPolicy) error {
			if _, err := PolicyFromProto(pp); err != nil {
				return fmt.Errorf("%w: routing policy of pool %q: %v", store.ErrCorruptStore, k, err)
			}
			rt.Policies[string(k)] = pp
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	rt.sync()
	return rt, nil
}

// Run keeps the pools in step with node events until ctx ends. Events that arrive together are
// applied in one pass.
func (rt *Router) Run(ctx context.Context) error {
	for {
		w, _, err := rt.reg.Watch("", false)
		if err != nil {
			return nil // the registry is closed: the control plane is stopping
		}
		rt.sync()
		if done := rt.follow(ctx, w); done {
			rt.reg.Unwatch(w)
			return nil
		}
	}
}

// follow applies w's events until ctx ends (true) or the registry drops w (false).
func (rt *Router) follow(ctx context.Context, w *fleet.Watcher) bool {
	for {
		select {
		case <-ctx.Done():
			return true
		case _, ok := <-w.C:
			if !ok {
				return false
			}
			for drained := false; !drained; {
				select {
				case _, ok := <-w.C:
					if !ok {
						return false
					}
				default:
					drained = true
				}
			}
			rt.sync()
		}
	}
}

// Reconcile is the routing step of the reconcile loop: it refreshes the agents' request figures,
// then updates every pool (ejections ending, slow start, outlier judging).
func (rt *Router) Reconcile(_ context.Context, now time.Time) error {
	figs := make(map[string]nodeFigures)
	var firstErr error
	latency := reqstats.NewSketch(0)
	for _, pool := range rt.reg.Pools() {
		byNode, err := rt.stats.Window(pool, now.Add(-figuresWindow))
		if err != nil {
			firstErr = cmpOr(firstErr, err)
			continue
		}
		for node, ws := range byNode {
			requests, errors, err := reqstats.MergeLatency(latency, ws...)
			if err != nil {
				firstErr = cmpOr(firstErr, err)
				continue
			}
			figs[node] = nodeFigures{requests: requests, errors: errors,
				p95: time.Duration(latency.Quantile(0.95) * float64(time.Millisecond))}
		}
	}
	rt.mu.Lock()
	rt.figures = figs
	rt.mu.Unlock()
	rt.sync()
	return firstErr
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// sync feeds every pool the registry's current nodes. The registry is read one pool at a time,
// before the router's lock is taken, so no report waits on more than one pool's copy; a node
// that changes pools between two of those reads is in both, or neither, until the next sync.
func (rt *Router) sync() {
	now := rt.now()
	pools := rt.reg.Pools()
	nodes := make(map[string][]routing.Node, len(pools))
	for _, pool := range pools {
		nodes[pool] = rt.reg.RoutingNodes(pool)
	}
	rt.mu.Lock()
	for _, ns := range nodes {
		for i := range ns {
			f := rt.figures[ns[i].ID]
			ns[i].Latency, ns[i].Requests, ns[i].Errors = f.p95, f.requests, f.errors
		}
	}
	rt.applyOverridesLocked(nodes)
	for pool := range rt.Policies {
		if _, ok := nodes[pool]; !ok {
			nodes[pool] = nil
		}
	}
	for pool, pr := range rt.pools {
		if _, ok := nodes[pool]; !ok {
			pr.mu.Lock()
			watched := len(pr.watchers) > 0
			pr.mu.Unlock()
			if !watched {
				delete(rt.pools, pool)
				continue
			}
			nodes[pool] = nil
		}
	}
	var routes []*poolRoute
	var members [][]routing.Node
	for pool, ns := range nodes {
		routes = append(routes, rt.routeLocked(pool))
		members = append(members, ns)
	}
	rt.mu.Unlock()
	for i, pr := range routes {
		pr.mu.Lock()
		if pr.pool.Update(members[i], now) {
			pr.publishLocked()
		}
		pr.mu.Unlock()
	}
}

// routeLocked returns pool's route, creating it with its policy; rt.mu is held for writing.
func (rt *Router) routeLocked(pool string) *poolRoute {
	if pr := rt.pools[pool]; pr != nil {
		return pr
	}
	p := routing.DefaultPolicy()
	if pp := rt.Policies[pool]; pp != nil {
		p, _ = PolicyFromProto(pp) // validated when stored or loaded
	}
	rt.seed++
	pr := &poolRoute{name: pool, pool: routing.NewPool(p, rt.seed), watchers: make(map[chan *fleetv1.WatchEndpointsResponse]struct{})}
	rt.pools[pool] = pr
	return pr
}

// known reports whether pool has nodes or a stored policy.
func (rt *Router) known(pool string) bool {
	rt.mu.RLock()
	defer rt.mu.RUnlock()
	_, hasPolicy := rt.Policies[pool]
	return hasPolicy || rt.reg.HasPool(pool)
}

// route returns the pool's route, or an InvalidArgument error naming the known pools.
func (rt *Router) route(pool string) (*poolRoute, error) {
	if !rt.known(pool) {
		known := "none yet"
		if pools := rt.knownPools(); len(pools) > 0 {
			known = strings.Join(pools, ", ")
		}
		return nil, unknownPoolError{check.Invalidf("pool: unknown pool %q: no node has joined it and it has no routing policy (known pools: %s)", pool, known)}
	}
	rt.mu.RLock()
	pr := rt.pools[pool]
	rt.mu.RUnlock()
	if pr != nil {
		return pr, nil
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.routeLocked(pool), nil
}

// knownPools lists the pools with nodes or policies, sorted.
func (rt *Router) knownPools() []string {
	rt.mu.RLock()
	defer rt.mu.RUnlock()
	pools := rt.reg.Pools()
	for p := range rt.Policies {
		if !slices.Contains(pools, p) {
			pools = append(pools, p)
		}
	}
	slices.Sort(pools)
	return pools
}

// Policy returns pool's effective policy and whether it was configured.
func (rt *Router) Policy(pool string) (*fleetv1.RoutingPolicy, bool, error) {
	if !rt.known(pool) {
		_, err := rt.route(pool)
		return nil, false, err
	}
	rt.mu.RLock()
	defer rt.mu.RUnlock()
	if pp := rt.Policies[pool]; pp != nil {
		return proto.Clone(pp).(*fleetv1.RoutingPolicy), true, nil
	}
	return PolicyToProto(routing.DefaultPolicy()), false, nil
}

// ReplacePolicies makes policies (validated, every field set) the stored policies of every
// pool, in one transaction: pools left out go back to the defaults.
func (rt *Router) ReplacePolicies(policies map[string]*fleetv1.RoutingPolicy) error {
	raws := make(map[string][]byte, len(policies))
	for pool, pp := range policies {
		raw, err := proto.Marshal(pp)
		if err != nil {
			return err
		}
		raws[pool] = raw
	}
	rt.mu.Lock()
	err := rt.store.Update(func(tx *store.Tx) error {
		b := tx.Bucket(store.RoutingPolicies)
		for pool := range rt.Policies {
			if _, keep := policies[pool]; !keep {
				if err := b.Delete([]byte(pool)); err != nil {
					return err
				}
			}
		}
		for pool, raw := range raws {
			if err := b.Put([]byte(pool), raw); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		rt.mu.Unlock()
		return fmt.Errorf("store routing policies: %w", err)
	}
	changed := make(map[string]routing.Policy)
	for pool := range rt.Policies {
		if _, keep := policies[pool]; !keep {
			changed[pool] = routing.DefaultPolicy()
		}
	}
	for pool, pp := range policies {
		changed[pool], _ = PolicyFromProto(pp)
	}
	rt.Policies = maps.Clone(policies)
	var routes []*poolRoute
	var ps []routing.Policy
	for pool, p := range changed {
		routes = append(routes, rt.routeLocked(pool))
		ps = append(ps, p)
	}
	rt.mu.Unlock()
	now := rt.now()
	for i, pr := range routes {
		pr.mu.Lock()
		pr.pool.SetPolicy(ps[i], now)
		pr.publishLocked()
		pr.mu.Unlock()
	}
	return nil
}

// StoredPolicies returns a copy of the configured policies by pool.
func (rt *Router) StoredPolicies() map[string]*fleetv1.RoutingPolicy {
	rt.mu.RLock()
	defer rt.mu.RUnlock()
	out := make(map[string]*fleetv1.RoutingPolicy, len(rt.Policies))
	for pool, pp := range rt.Policies {
		out[pool] = proto.Clone(pp).(*fleetv1.RoutingPolicy)
	}
	return out
}

// endpointsLocked renders the pool's routing set.
func (pr *poolRoute) endpointsLocked() *fleetv1.WatchEndpointsResponse {
	eps, panicking := pr.pool.Endpoints()
	resp := &fleetv1.WatchEndpointsResponse{Pool: pr.name, Version: pr.pool.Version(),
		Strategy: StrategyToProto(pr.pool.Policy().Strategy), Panic: panicking}
	for _, e := range eps {
		resp.Endpoints = append(resp.Endpoints, &fleetv1.Endpoint{NodeId: e.ID, Address: e.Address, Weight: e.Weight})
	}
	if err := pr.pool.Unavailable(); err != nil {
		resp.UnavailableReason = err.Error()
	}
	return resp
}

// publishLocked hands every watcher the new routing set, replacing one it has not read yet:
// each message is the whole set, so only the newest matters. Only publishLocked sends on the
// channels (capacity 1), under pr.mu, so the send never blocks.
func (pr *poolRoute) publishLocked() {
	if len(pr.watchers) == 0 {
		return
	}
	resp := pr.endpointsLocked()
	for ch := range pr.watchers {
		select {
		case <-ch:
		default:
		}
		ch <- resp
	}
}

// ErrUnknownPool is matched by the error of a call for a pool no node has joined and no policy
// names; the error is also an InvalidArgument naming the known pools.
var ErrUnknownPool = errors.New("unknown pool")

// unknownPoolError keeps the InvalidArgument's message and matches errUnknownPool too.
type unknownPoolError struct{ err error }

func (e unknownPoolError) Error() string   { return e.err.Error() }
func (e unknownPoolError) Unwrap() []error { return []error{e.err, ErrUnknownPool} }

// Pick picks a node of pool for a request with key.
func (rt *Router) Pick(pool, key string) (routing.Pick, error) {
	pr, err := rt.route(pool)
	if err != nil {
		return routing.Pick{}, err
	}
	pr.mu.Lock()
	defer pr.mu.Unlock()
	return pr.pool.Pick(key)
}

// Result settles a pick's outcome on the pool's in-flight counts and outlier detection. A pool
// or a node that is gone since the pick has nothing to settle.
func (rt *Router) Result(pool, node string, epoch uint32, latency time.Duration, ok bool) error {
	rt.mu.RLock()
	pr := rt.pools[pool]
	rt.mu.RUnlock()
	if pr == nil {
		return nil
	}
	pr.mu.Lock()
	defer pr.mu.Unlock()
	changed, err := pr.pool.Result(node, epoch, latency, ok, rt.now())
	if errors.Is(err, routing.ErrUnknownNode) {
		return nil
	}
	if changed {
		pr.publishLocked()
	}
	return err
}

// Watch returns a channel that holds the pool's routing set now and after every change (the
// latest only: a slow reader skips sets, never blocks routing), and a cancel to stop watching.
func (rt *Router) Watch(pool string) (<-chan *fleetv1.WatchEndpointsResponse, func()) {
	ch := make(chan *fleetv1.WatchEndpointsResponse, 1)
	rt.mu.Lock()
	pr := rt.routeLocked(pool)
	pr.mu.Lock()
	pr.watchers[ch] = struct{}{}
	ch <- pr.endpointsLocked()
	pr.mu.Unlock()
	rt.mu.Unlock()
	return ch, func() {
		pr.mu.Lock()
		delete(pr.watchers, ch)
		pr.mu.Unlock()
	}
}

// Status explains the pool's routing state.
func (rt *Router) Status(pool string) (routing.Status, error) {
	pr, err := rt.route(pool)
	if err != nil {
		return routing.Status{}, err
	}
	pr.mu.Lock()
	defer pr.mu.Unlock()
	return pr.pool.Status(), nil
}
