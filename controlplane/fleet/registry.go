package fleet

import (
	"context"
	"fmt"
	"maps"
	"net"
	"slices"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dspyfleet/dspyfleet/controlplane/check"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// Registry is the in-memory node table: sessions, states, liveness and watchers. The store
// persists it in batches; it is the only writer of node state.
type Registry struct {
	now      func() time.Time
	liveness Liveness
	watchCap int
	// MaxNodes bounds the nodes known; 0 means no bound. Set before use.
	MaxNodes int
	// NewNodes limits the new node ids each credential registers; nil means no limit. Set
	// before use.
	NewNodes *RegisterLimit

	mu       sync.Mutex
	nodes    map[string]*entry
	byPool   map[string]map[string]*entry // the same entries by pool and id
	watchers map[*Watcher]struct{}
	dirty    map[string]struct{}
	nextID   uint64
	closed   bool
	flushNow chan struct{}
}

// entry is one node and its live session, if any. Its fields are written with both the
// registry's lock and mu held, and read with either: the registry's own calls read under the
// registry lock, fleet-wide reads (eachEntry) under mu alone, so that a read over every node
// never holds the lock every report takes.
type entry struct {
	mu            sync.Mutex
	node          *fleetv1.Node // metadata and state; last_seen and reports_received live below
	sess          *Session
	lastSeen      time.Time
	received      uint64
	lastReportSeq uint64 // highest report seq applied for node.agent_instance_id
	downAfter     time.Time
	lastReady     time.Time // the last report applied while ready; zero if none ever was
}

// Session is one agent stream bound to a node.
type Session struct {
	ID         uint64
	NodeID     string
	InstanceID string
	Peer       string
	cancel     context.CancelCauseFunc
	goodbye    string
}

// Watcher receives node events until it is removed or falls behind.
type Watcher struct {
	pool    string
	reports bool
	C       chan *fleetv1.WatchNodesResponse
	err     error // why ch was closed by the registry
}

func NewRegistry(now func() time.Time, lp Liveness, watchCap int) *Registry {
	return &Registry{
		now:      now,
		liveness: lp,
		watchCap: watchCap,
		nodes:    make(map[string]*entry),
		byPool:   make(map[string]map[string]*entry),
		watchers: make(map[*Watcher]struct{}),
		dirty:    make(map[string]struct{}),
		flushNow: make(chan struct{}, 1),
	}
}

// Load restores nodes read from the store at start-up. Nodes that were connected become
// disconnected, and each gets the failover TTL before it can be declared down.
func (r *Registry) Load(nodes []*fleetv1.Node) {
	r.mu.Lock()
	defer r.mu.Unlock()
	start := r.now()
	for _, n := range nodes {
		e := &entry{
			node:     n,
			lastSeen: timeOf(n.GetLastSeen()),
			received: n.GetReportsReceived(),
		}
		e.lastReportSeq = n.GetLastReport().GetSeq()
		e.lastReady = loadedLastReady(n)
		interval := n.GetReportInterval().AsDuration()
		e.downAfter = r.liveness.afterRestart(e.lastSeen, interval, start)
		if n.GetState() != fleetv1.NodeState_NODE_STATE_DOWN && n.GetState() != fleetv1.NodeState_NODE_STATE_DISCONNECTED {
			n.State = fleetv1.NodeState_NODE_STATE_DISCONNECTED
			n.StateReason = "control plane restarted; waiting for the agent to reconnect"
			n.StateSince = timestamppb.New(start)
			r.dirty[n.GetId()] = struct{}{}
		}
		r.nodes[n.GetId()] = e
		r.indexLocked(e, "")
	}
}

// indexLocked files e under its pool, out of prev (its pool before a change, "" for none).
func (r *Registry) indexLocked(e *entry, prev string) {
	id, pool := e.node.GetId(), e.node.GetPool()
	if prev == pool {
		if _, ok := r.byPool[pool][id]; ok {
			return
		}
	}
	if m := r.byPool[prev]; m != nil {
		delete(m, id)
		if len(m) == 0 {
			delete(r.byPool, prev)
		}
	}
	if r.byPool[pool] == nil {
		r.byPool[pool] = make(map[string]*entry)
	}
	r.byPool[pool][id] = e
}

// Attach is AttachFor without a credential: the new-node limit does not apply.
func (r *Registry) Attach(h *fleetv1.Hello, peer string, cancel context.CancelCauseFunc) (*Session, *fleetv1.Welcome, error) {
	return r.AttachFor(h, peer, "", cancel)
}

// AttachFor binds a new agent session to its node, creating the node on first contact. A live
// Session of another agent process with the same node id is refused with ErrAlreadyConnected;
// a session of the same process (a reconnect after a network stall) or a silent one is replaced.
// A new node id takes a token from credential's bucket of NewNodes (none when credential is
// empty) and is refused with a *RegisterRefusal when there is none; known ids never are.
func (r *Registry) AttachFor(h *fleetv1.Hello, peer, credential string, cancel context.CancelCauseFunc) (*Session, *fleetv1.Welcome, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, nil, check.ErrShuttingDown
	}
	now := r.now()
	interval := h.GetReportInterval().AsDuration()
	e, known := r.nodes[h.GetNodeId()]
	if known && e.sess != nil {
		old := e.sess
		alive := now.Before(e.lastSeen.Add(r.liveness.ttl(interval)))
		if old.InstanceID != h.GetInstanceId() && alive {
			return nil, nil, fmt.Errorf("%w: node %q is connected from %s (agent instance %s, last report %s ago); stop that agent or give this one another --node-id",
				check.ErrAlreadyConnected, h.GetNodeId(), old.Peer, old.InstanceID, now.Sub(e.lastSeen).Round(time.Millisecond))
		}
		old.cancel(fmt.Errorf("%w: replaced by a new session of node %q from %s", check.ErrSessionEnded, h.GetNodeId(), peer))
		e.mu.Lock()
		e.sess = nil
		e.mu.Unlock()
	}
	if !known && r.MaxNodes > 0 && len(r.nodes) >= r.MaxNodes {
		return nil, nil, fmt.Errorf("%w: the control plane knows %d nodes, the most it may (--max-nodes); node %q is refused", check.ErrTooManyNodes, len(r.nodes), h.GetNodeId())
	}
	if !known && credential != "" && r.NewNodes != nil {
		if ok, record := r.NewNodes.allow(credential, now); !ok {
			return nil, nil, &RegisterRefusal{Record: record, msg: fmt.Sprintf(
				"%v: credential %q registers new node ids faster than --max-new-nodes-per-minute (%d) allows; node %q is refused, retry later (nodes already known reconnect freely)",
				check.ErrNewNodeRate, credential, r.NewNodes.PerMinute(), h.GetNodeId())}
		}
	}
	if !known {
		e = &entry{node: &fleetv1.Node{Id: h.GetNodeId(), FirstSeen: timestamppb.New(now)}}
		r.nodes[h.GetNodeId()] = e
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	prevPool := e.node.GetPool()
	updated := applyHello(e.node, h)
	r.indexLocked(e, prevPool)
	if addr := servingAddress(h.GetAdvertiseAddress(), peer); addr != e.node.GetAddress() {
		e.node.Address = addr
		updated = true
	}
	if e.node.GetAgentInstanceId() != h.GetInstanceId() {
		e.node.AgentInstanceId = h.GetInstanceId()
		e.lastReportSeq = 0
	}
	e.node.PeerAddress = peer
	e.node.ConnectedSince = timestamppb.New(now)
	e.lastSeen = now
	e.downAfter = r.liveness.downAfter(now, interval)
	r.nextID++
	s := &Session{ID: r.nextID, NodeID: h.GetNodeId(), InstanceID: h.GetInstanceId(), Peer: peer, cancel: cancel}
	e.sess = s
	r.dirty[e.node.GetId()] = struct{}{}
	if h.GetDraining() && !e.node.GetDrainRequested() {
		e.node.DrainRequested = true
	}
	state, reason := connectedState(e.node, h.GetServiceHealth()), "agent connected from "+peer
	if state == fleetv1.NodeState_NODE_STATE_UNHEALTHY {
		reason += "; " + healthReason(health(e.node, h.GetServiceHealth()))
	}
	switch {
	case !known:
		e.node.State = state
		e.node.StateReason = reason
		e.node.StateSince = timestamppb.New(now)
		r.publishLocked(fleetv1.NodeEventType_NODE_EVENT_TYPE_ADDED, e, fleetv1.NodeState_NODE_STATE_UNSPECIFIED)
	default:
		if updated {
			r.publishLocked(fleetv1.NodeEventType_NODE_EVENT_TYPE_UPDATED, e, fleetv1.NodeState_NODE_STATE_UNSPECIFIED)
		}
		r.setStateLocked(e, state, reason, now)
	}
	w := &fleetv1.Welcome{
		NodeId:        h.GetNodeId(),
		LastReportSeq: e.lastReportSeq,
		DownAfter:     durationpb.New(r.liveness.ttl(interval) + r.liveness.Grace),
	}
	return s, w, nil
}

// servingAddress is the address routing hands out for an agent that advertised adv and
// Connected from peer: adv, with an unspecified host replaced by the peer's.
func servingAddress(adv, peer string) string {
	host, port, err := net.SplitHostPort(adv)
	if err != nil {
		return ""
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		peerHost, _, err := net.SplitHostPort(peer)
		if err != nil {
			return ""
		}
		host = peerHost
	}
	return net.JoinHostPort(host, port)
}

// connectedState is the state of a connected node: ready unless an operator drained it or its
// agent's last report found the service unhealthy.
func connectedState(n *fleetv1.Node, hello *fleetv1.ServiceHealth) fleetv1.NodeState {
	switch {
	case n.GetDrained():
		return fleetv1.NodeState_NODE_STATE_DRAINED
	case n.GetDrainRequested():
		return fleetv1.NodeState_NODE_STATE_DRAINING
	case !serviceHealthy(health(n, hello)):
		return fleetv1.NodeState_NODE_STATE_UNHEALTHY
	}
	return fleetv1.NodeState_NODE_STATE_READY
}

// health is the service health a connecting node is judged by: the one its Hello carries, else
// its last report's.
func health(n *fleetv1.Node, hello *fleetv1.ServiceHealth) *fleetv1.ServiceHealth {
	if hello != nil {
		return hello
	}
	return n.GetLastReport().GetServiceHealth()
}

// serviceHealthy reports whether a verdict lets the node serve: healthy, or none given.
func serviceHealthy(h *fleetv1.ServiceHealth) bool { return h == nil || h.GetHealthy() }

// healthReason is the state reason of a node whose service health decided its state.
func healthReason(h *fleetv1.ServiceHealth) string {
	if serviceHealthy(h) {
		return "service healthy again"
	}
	return "service unhealthy: " + h.GetDetail()
}

// Connected reports whether a node state means its agent has a live session.
func Connected(s fleetv1.NodeState) bool {
	switch s {
	case fleetv1.NodeState_NODE_STATE_READY, fleetv1.NodeState_NODE_STATE_DRAINING,
		fleetv1.NodeState_NODE_STATE_DRAINED, fleetv1.NodeState_NODE_STATE_UNHEALTHY:
		return true
	}
	return false
}

// SetDrain records an operator's drain intent and its progress, and moves a connected node to
// the matching state at once.
func (r *Registry) SetDrain(id string, requested, drained bool, reason string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.nodes[id]
	if e == nil {
		return fmt.Errorf("%w: no node with id %q; list nodes with fleetctl nodes list", check.ErrNodeNotFound, id)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.node.DrainRequested, e.node.Drained = requested, drained
	e.node.RestartHold = "" // an operator's drain or undrain replaces a restart's hold
	r.dirty[id] = struct{}{}
	if Connected(e.node.GetState()) {
		r.setStateLocked(e, connectedState(e.node, nil), reason, r.now())
	}
	return nil
}

// Exists reports whether a node is known.
func (r *Registry) Exists(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.nodes[id] != nil
}

// applyHello copies the agent's self-description into n and reports whether anything changed.
func applyHello(n *fleetv1.Node, h *fleetv1.Hello) bool {
	pool := h.GetPool()
	if pool == "" {
		pool = check.DefaultPool
	}
	weight := h.GetWeight()
	if weight == 0 {
		weight = 1
	}
	changed := n.GetPool() != pool || !maps.Equal(n.GetLabels(), h.GetLabels()) || n.GetWeight() != weight ||
		n.GetHourlyPrice() != h.GetHourlyPrice() || n.GetInstanceType() != h.GetInstanceType() ||
		n.GetAgentVersion() != h.GetAgentVersion() || n.GetHostname() != h.GetHostname() ||
		n.GetCapacityType() != h.GetCapacityType()
	n.Pool = pool
	n.CapacityType = h.GetCapacityType()
	n.Labels = maps.Clone(h.GetLabels())
	n.Weight = weight
	n.HourlyPrice = h.GetHourlyPrice()
	n.InstanceType = h.GetInstanceType()
	n.AgentVersion = h.GetAgentVersion()
	n.Hostname = h.GetHostname()
	n.ReportInterval = h.GetReportInterval()
	n.ReportsDropped = h.GetReportsDropped()
	return changed
}

// ApplyReport stores a validated report of session s and returns the node's pool. It returns
// false for a duplicate (a report resent after a reconnect that was already stored) and
// ErrSessionEnded when s is no longer the node's session.
func (r *Registry) ApplyReport(s *Session, rep *fleetv1.MetricsReport) (bool, string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.nodes[s.NodeID]
	if e == nil || e.sess != s {
		return false, "", fmt.Errorf("%w: session of node %q is no longer current", check.ErrSessionEnded, s.NodeID)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	now := r.now()
	e.lastSeen = now
	e.downAfter = r.liveness.downAfter(now, e.node.GetReportInterval().AsDuration())
	if rep.GetSeq() <= e.lastReportSeq {
		return false, e.node.GetPool(), nil
	}
	e.lastReportSeq = rep.GetSeq()
	e.node.LastReport = rep
	e.received++
	r.dirty[s.NodeID] = struct{}{}
	if st := e.node.GetState(); Connected(st) {
		want := connectedState(e.node, nil)
		reason := healthReason(rep.GetServiceHealth())
		// An unhealthy node's reason follows its service's latest verdict (starting, then
		// crash-looping, say), as its state follows it.
		if want != st || want == fleetv1.NodeState_NODE_STATE_UNHEALTHY && e.node.GetStateReason() != reason {
			r.setStateLocked(e, want, reason, now)
		}
	}
	if e.node.GetState() == fleetv1.NodeState_NODE_STATE_READY {
		e.lastReady = now
	}
	if r.hasReportWatchersLocked() {
		r.publishLocked(fleetv1.NodeEventType_NODE_EVENT_TYPE_REPORT, e, fleetv1.NodeState_NODE_STATE_UNSPECIFIED)
	}
	return true, e.node.GetPool(), nil
}

// Touch records that session s is alive without a report (e.g. a command update).
func (r *Registry) Touch(s *Session) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e := r.nodes[s.NodeID]; e != nil && e.sess == s {
		e.mu.Lock()
		e.lastSeen = r.now()
		e.downAfter = r.liveness.downAfter(e.lastSeen, e.node.GetReportInterval().AsDuration())
		e.mu.Unlock()
	}
}

// Goodbye records the agent's announced shutdown; detach uses it as the reason.
func (r *Registry) Goodbye(s *Session, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s.goodbye = reason
}

// Detach ends session s and returns the reason recorded. The node becomes disconnected unless
// the session was already replaced or the node declared down.
func (r *Registry) Detach(s *Session, why string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.nodes[s.NodeID]
	if e == nil || e.sess != s {
		return why
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.sess = nil
	reason := "stream closed: " + why
	if s.goodbye != "" {
		reason = "agent shut down: " + s.goodbye
	}
	r.setStateLocked(e, fleetv1.NodeState_NODE_STATE_DISCONNECTED, reason, r.now())
	return reason
}

// Sweep declares down every node whose report silence passed its TTL plus grace, ending its
// Session if one is still open (a stalled connection).
func (r *Registry) Sweep() {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	for _, e := range r.nodes {
		if e.node.GetState() == fleetv1.NodeState_NODE_STATE_DOWN || !now.After(e.downAfter) {
			continue
		}
		e.mu.Lock()
		reason := r.liveness.downReason(e.lastSeen, now, e.node.GetReportInterval().AsDuration())
		if e.sess != nil {
			e.sess.cancel(fmt.Errorf("%w: node %q declared down: %s", check.ErrSessionEnded, e.node.GetId(), reason))
			e.sess = nil
		}
		r.setStateLocked(e, fleetv1.NodeState_NODE_STATE_DOWN, reason, now)
		e.mu.Unlock()
	}
}

// setStateLocked moves e to state, publishing the change and scheduling a prompt flush; the
// registry lock and e.mu are held.
func (r *Registry) setStateLocked(e *entry, state fleetv1.NodeState, reason string, now time.Time) {
	prev := e.node.GetState()
	e.node.StateReason = reason
	r.dirty[e.node.GetId()] = struct{}{}
	if prev == state {
		return
	}
	e.node.State = state
	e.node.StateSince = timestamppb.New(now)
	r.publishLocked(fleetv1.NodeEventType_NODE_EVENT_TYPE_STATE_CHANGED, e, prev)
	select {
	case r.flushNow <- struct{}{}:
	default:
	}
}

// snapshotLocked returns a copy of e's node safe to hand out.
func (e *entry) snapshotLocked() *fleetv1.Node {
	n := proto.Clone(e.node).(*fleetv1.Node)
	if !e.lastSeen.IsZero() {
		n.LastSeen = timestamppb.New(e.lastSeen)
	}
	if !e.lastReady.IsZero() {
		n.LastReady = timestamppb.New(e.lastReady)
	}
	n.ReportsReceived = e.received
	return n
}

// Get returns a copy of one node.
func (r *Registry) Get(id string) (*fleetv1.Node, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.nodes[id]
	if e == nil {
		return nil, fmt.Errorf("%w: no node with id %q; list nodes with fleetctl nodes list", check.ErrNodeNotFound, id)
	}
	return e.snapshotLocked(), nil
}

// List returns copies of the nodes matching the request, sorted by id.
func (r *Registry) List(req *fleetv1.ListNodesRequest) []*fleetv1.Node {
	out, _ := r.Page(req, "", 0)
	return out
}

// Page returns copies of the first size nodes (all when size is 0) matching the request's
// filters whose id sorts after after, sorted by id, and whether more follow. Paging by key
// means a node that exists for the whole walk is listed once and no node twice, whatever
// joins or leaves between pages.
func (r *Registry) Page(req *fleetv1.ListNodesRequest, after string, size int) ([]*fleetv1.Node, bool) {
	var out []*fleetv1.Node
	r.eachEntry(req.GetPool(), func(e *entry) {
		n := e.node
		if after != "" && n.GetId() <= after {
			return
		}
		if len(req.GetStates()) > 0 && !slices.Contains(req.GetStates(), n.GetState()) {
			return
		}
		if !hasLabels(n.GetLabels(), req.GetLabels()) {
			return
		}
		out = append(out, e.snapshotLocked())
	})
	slices.SortFunc(out, func(a, b *fleetv1.Node) int { return CompareStrings(a.GetId(), b.GetId()) })
	if size > 0 && len(out) > size {
		return out[:size], true
	}
	return out, false
}

func hasLabels(have, want map[string]string) bool {
	for k, v := range want {
		if got, ok := have[k]; !ok || got != v {
			return false
		}
	}
	return true
}

func CompareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// InFlight returns the in-flight requests of each connected node of pool, from its last report.
func (r *Registry) InFlight(pool string) map[string]uint32 {
	out := make(map[string]uint32)
	if pool == "" {
		return out
	}
	r.eachEntry(pool, func(e *entry) {
		if e.sess != nil {
			out[e.node.GetId()] = e.node.GetLastReport().GetApp().GetInFlight()
		}
	})
	return out
}

// StateCounts returns the number of nodes per pool and state, for metrics.
func (r *Registry) StateCounts() map[[2]string]int {
	counts := make(map[[2]string]int)
	r.eachEntry("", func(e *entry) {
		counts[[2]string{e.node.GetPool(), StateName(e.node.GetState())}]++
	})
	return counts
}

// Sessions returns the number of open agent sessions.
func (r *Registry) Sessions() int {
	n := 0
	r.eachEntry("", func(e *entry) {
		if e.sess != nil {
			n++
		}
	})
	return n
}

// TakeDirty encodes every node changed since the last call, for one batched store write; a
// node removed since has a nil record, which deletes it (store.PutNodes). The lock is held only
// to copy the nodes (sharedLocked); encoding happens after.
func (r *Registry) TakeDirty() (map[string][]byte, error) {
	r.mu.Lock()
	nodes := make(map[string]*fleetv1.Node, len(r.dirty))
	for id := range r.dirty {
		var n *fleetv1.Node
		if e := r.nodes[id]; e != nil {
			n = e.sharedLocked()
		}
		nodes[id] = n
	}
	clear(r.dirty)
	r.mu.Unlock()
	out := make(map[string][]byte, len(nodes))
	for id, n := range nodes {
		if n == nil {
			out[id] = nil
			continue
		}
		b, err := proto.Marshal(n)
		if err != nil {
			again := make(map[string][]byte, len(nodes))
			for id := range nodes {
				again[id] = nil
			}
			r.MarkDirty(again)
			return nil, fmt.Errorf("encode node %q: %w", id, err)
		}
		out[id] = b
	}
	return out, nil
}

// MarkDirty schedules nodes for the next flush again, after a failed write.
func (r *Registry) MarkDirty(ids map[string][]byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for id := range ids {
		r.dirty[id] = struct{}{}
	}
}

// Close ends every session and watcher; later attaches fail with ErrShuttingDown.
func (r *Registry) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	for _, e := range r.nodes {
		if e.sess != nil {
			e.sess.cancel(check.ErrShuttingDown)
		}
	}
	for w := range r.watchers {
		r.dropWatcherLocked(w, check.ErrShuttingDown)
	}
}

// Watch registers a watcher and returns the matching nodes as of now; events after this call
// reach w.ch.
func (r *Registry) Watch(pool string, reports bool) (*Watcher, []*fleetv1.Node, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, nil, check.ErrShuttingDown
	}
	w := &Watcher{pool: pool, reports: reports, C: make(chan *fleetv1.WatchNodesResponse, r.watchCap)}
	r.watchers[w] = struct{}{}
	var initial []*fleetv1.Node
	for _, e := range r.nodes {
		if pool == "" || e.node.GetPool() == pool {
			initial = append(initial, e.snapshotLocked())
		}
	}
	slices.SortFunc(initial, func(a, b *fleetv1.Node) int { return CompareStrings(a.GetId(), b.GetId()) })
	return w, initial, nil
}

// Unwatch removes w; it is safe to call after the registry dropped w.
func (r *Registry) Unwatch(w *Watcher) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.watchers[w]; ok {
		delete(r.watchers, w)
		close(w.C)
	}
}

// WatchErr returns why the registry closed w's channel.
func (r *Registry) WatchErr(w *Watcher) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return w.err
}

func (r *Registry) dropWatcherLocked(w *Watcher, err error) {
	w.err = err
	delete(r.watchers, w)
	close(w.C)
}

func (r *Registry) hasReportWatchersLocked() bool {
	for w := range r.watchers {
		if w.reports {
			return true
		}
	}
	return false
}

// publishLocked sends one event to every interested watcher. A watcher whose buffer is full is
// dropped with ErrWatchBehind rather than blocking the registry.
func (r *Registry) publishLocked(t fleetv1.NodeEventType, e *entry, prev fleetv1.NodeState) {
	if len(r.watchers) == 0 {
		return
	}
	var ev *fleetv1.WatchNodesResponse
	for w := range r.watchers {
		if w.pool != "" && w.pool != e.node.GetPool() {
			continue
		}
		if t == fleetv1.NodeEventType_NODE_EVENT_TYPE_REPORT && !w.reports {
			continue
		}
		if ev == nil {
			ev = &fleetv1.WatchNodesResponse{Type: t, Node: e.snapshotLocked(), PreviousState: prev}
		}
		select {
		case w.C <- ev:
		default:
			r.dropWatcherLocked(w, fmt.Errorf("%w: more than %d events queued; watch again", check.ErrWatchBehind, r.watchCap))
		}
	}
}

// SetTTL changes the down deadline of silent nodes; each node's deadline moves at its next
// report or Hello.
func (r *Registry) SetTTL(ttl, grace time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.liveness.NodeTTL, r.liveness.Grace = ttl, grace
}

// SetStateForTest moves node id to state as the liveness checks would.
func (r *Registry) SetStateForTest(id string, state fleetv1.NodeState, reason string, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.nodes[id]
	e.mu.Lock()
	defer e.mu.Unlock()
	r.setStateLocked(e, state, reason, now)
}

// FlushNow signals, without blocking, that a node changed state and should be written at once.
func (r *Registry) FlushNow() <-chan struct{} { return r.flushNow }
