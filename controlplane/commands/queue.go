package commands

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dspyfleet/dspyfleet/controlplane/check"
	"github.com/dspyfleet/dspyfleet/controlplane/store"
	"github.com/dspyfleet/dspyfleet/internal/wire"
	"github.com/dspyfleet/dspyfleet/pkg/command"
	"github.com/dspyfleet/dspyfleet/pkg/maintenance"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// Queue is the durable queue of pushed commands. A command is written to bbolt before
// any agent can see it; every transition is written before the call that caused it returns.
// Delivery is at least once: a command not finished is sent again on every new session of its
// node, and the agent answers a repeat with the outcome it recorded.
type Queue struct {
	now       func() time.Time
	tracer    trace.Tracer
	store     *store.Store
	retention time.Duration
	watchCap  int

	mu       sync.Mutex
	byID     map[string]*cmdEntry
	seq      map[string]uint64
	wake     map[string]*sessionWake
	watchers map[*cmdWatcher]struct{}
	// unstored are the commands whose last write failed: their state is kept in memory and
	// written again by Flush.
	unstored map[string]*cmdEntry
	// holder decides which gated commands wait for a maintenance window (SetHolder).
	holder Holder
}

// ErrNotStored wraps the store's error when a command's new state was applied in memory but
// could not be written: the queue keeps it and writes it again on Flush.
var ErrNotStored = errors.New("command state kept in memory, not yet stored")

// cmdEntry is one command and its delivery bookkeeping.
type cmdEntry struct {
	key    []byte
	rec    *fleetv1.CommandRecord
	sentOn uint64 // session the command was last sent on
}

// sessionWake tells a node's current session sender that commands are waiting.
type sessionWake struct {
	session uint64
	ch      chan struct{}
}

// cmdWatcher receives command changes.
type cmdWatcher struct {
	nodeID string
	C      chan *fleetv1.CommandRecord
	err    error
}

func NewQueue(now func() time.Time, st *store.Store, retention time.Duration, watchCap int) *Queue {
	return &Queue{
		now: now, store: st, retention: retention, watchCap: watchCap,
		tracer:   noop.NewTracerProvider().Tracer(tracerName),
		byID:     make(map[string]*cmdEntry),
		seq:      make(map[string]uint64),
		wake:     make(map[string]*sessionWake),
		watchers: make(map[*cmdWatcher]struct{}),
		unstored: make(map[string]*cmdEntry),
	}
}

// Terminal reports whether s ends a command's life.
func Terminal(s fleetv1.CommandState) bool {
	switch s {
	case fleetv1.CommandState_COMMAND_STATE_SUCCEEDED, fleetv1.CommandState_COMMAND_STATE_FAILED,
		fleetv1.CommandState_COMMAND_STATE_EXPIRED, fleetv1.CommandState_COMMAND_STATE_CANCELLED:
		return true
	}
	return false
}

// agentStates are the states an agent may report.
var agentStates = map[fleetv1.CommandState]bool{
	fleetv1.CommandState_COMMAND_STATE_ACCEPTED:  true,
	fleetv1.CommandState_COMMAND_STATE_RUNNING:   true,
	fleetv1.CommandState_COMMAND_STATE_SUCCEEDED: true,
	fleetv1.CommandState_COMMAND_STATE_FAILED:    true,
	fleetv1.CommandState_COMMAND_STATE_EXPIRED:   true,
}

// Load restores the stored commands and the per-node sequence numbers. A record whose id is
// not one the queue makes (command.ValidID) is left out: it could never be sent, updated or
// found.
func (q *Queue) Load(recs []*fleetv1.CommandRecord) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, r := range recs {
		if command.ValidID(r.GetCommand().GetId()) != nil {
			continue
		}
		key, err := hex.DecodeString(r.GetCommand().GetId())
		if err != nil {
			continue
		}
		q.byID[r.GetCommand().GetId()] = &cmdEntry{key: key, rec: r}
		q.seq[r.GetNodeId()] = max(q.seq[r.GetNodeId()], r.GetCommand().GetSeq())
	}
}

// NewKey returns a time-ordered 16-byte key: big-endian unix nanos, then random bytes.
func NewKey(now time.Time) []byte {
	key := binary.BigEndian.AppendUint64(make([]byte, 0, 16), uint64(now.UnixNano()))
	var r [8]byte
	_, _ = rand.Read(r[:])
	return append(key, r[:]...)
}

// Create validates and durably queues a command for nodeID, then wakes the node's session.
func (q *Queue) Create(nodeID string, kind fleetv1.CommandKind, params map[string]string, timeout time.Duration, requestedBy, reason string) (*fleetv1.CommandRecord, error) {
	return q.CreateCtx(context.Background(), nodeID, kind, params, timeout, requestedBy, reason)
}

// create is Create with the traceparent the command carries to its agent, held or marked
// overridden by hold (see Submit).
func (q *Queue) create(nodeID string, kind fleetv1.CommandKind, params map[string]string, timeout time.Duration, requestedBy, reason, traceparent string, hold maintenance.Hold, override bool) (*fleetv1.CommandRecord, error) {
	if err := command.Validate(wire.CommandKind(kind), params); err != nil {
		return nil, fmt.Errorf("%w: %v", check.ErrInvalidArgument, err)
	}
	now := q.now()
	key := NewKey(now)
	q.mu.Lock()
	q.seq[nodeID]++
	seq := q.seq[nodeID]
	q.mu.Unlock()
	rec := &fleetv1.CommandRecord{
		Command: &fleetv1.Command{
			Id: hex.EncodeToString(key), Seq: seq, Kind: kind, Params: maps.Clone(params),
			Deadline: timestamppb.New(now.Add(timeout)), RequestedBy: requestedBy, Reason: reason,
			Traceparent: traceparent,
		},
		NodeId:  nodeID,
		State:   fleetv1.CommandState_COMMAND_STATE_PENDING,
		Detail:  "queued",
		History: []*fleetv1.CommandTransition{{State: fleetv1.CommandState_COMMAND_STATE_PENDING, Time: timestamppb.New(now), Detail: "queued"}},
		Created: timestamppb.New(now),
		Updated: timestamppb.New(now),
	}
	holdRecord(rec, hold, override, now, timeout)
	b, err := proto.Marshal(rec)
	if err != nil {
		return nil, err
	}
	if err := q.store.PutCommand(key, b); err != nil {
		return nil, fmt.Errorf("store command: %w", err)
	}
	e := &cmdEntry{key: key, rec: rec}
	q.mu.Lock()
	q.byID[rec.GetCommand().GetId()] = e
	out := proto.Clone(rec).(*fleetv1.CommandRecord)
	q.publishLocked(e)
	if rec.GetState() == fleetv1.CommandState_COMMAND_STATE_PENDING {
		q.wakeLocked(nodeID)
	}
	q.mu.Unlock()
	return out, nil
}

// transitionLocked moves e to state with a timestamped history entry.
func (q *Queue) transitionLocked(e *cmdEntry, state fleetv1.CommandState, detail string, now time.Time) {
	ts := timestamppb.New(now)
	e.rec.State = state
	e.rec.Detail = detail
	e.rec.Updated = ts
	e.rec.History = append(e.rec.History, &fleetv1.CommandTransition{State: state, Time: ts, Detail: detail})
	q.publishLocked(e)
}

// persist writes the latest state of e. The record is encoded inside the write, so whichever
// write lands last carries the newest state. A failed write leaves e among the unstored, for
// Flush, and returns ErrNotStored.
func (q *Queue) persist(e *cmdEntry) error {
	err := q.store.Update(func(tx *store.Tx) error {
		q.mu.Lock()
		b, err := proto.Marshal(e.rec)
		q.mu.Unlock()
		if err != nil {
			return err
		}
		return tx.Bucket(store.Commands).Put(e.key, b)
	})
	id := e.rec.GetCommand().GetId()
	q.mu.Lock()
	defer q.mu.Unlock()
	if err != nil {
		q.unstored[id] = e
		return fmt.Errorf("%w: command %s: %w", ErrNotStored, id, err)
	}
	delete(q.unstored, id)
	return nil
}

// Flush writes again every command whose last write failed, and returns how many are still
// unstored and the first error.
func (q *Queue) Flush() (int, error) {
	q.mu.Lock()
	pending := slices.Collect(maps.Values(q.unstored))
	q.mu.Unlock()
	var first error
	for _, e := range pending {
		if err := q.persist(e); err != nil && first == nil {
			first = err
		}
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.unstored), first
}

// StartedSeq is the highest seq of the node's commands that its agent accepted or went further
// with; an agent reporting a lower last_command_seq has lost its state store.
func (q *Queue) StartedSeq(nodeID string) uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	var seq uint64
	for _, e := range q.byID {
		if e.rec.GetNodeId() != nodeID {
			continue
		}
		for _, h := range e.rec.GetHistory() {
			if h.GetState() == fleetv1.CommandState_COMMAND_STATE_ACCEPTED {
				seq = max(seq, e.rec.GetCommand().GetSeq())
			}
		}
	}
	return seq
}

// AttachSession registers the sender of a node's new session and returns its wake channel.
func (q *Queue) AttachSession(nodeID string, session uint64) <-chan struct{} {
	q.mu.Lock()
	defer q.mu.Unlock()
	w := &sessionWake{session: session, ch: make(chan struct{}, 1)}
	q.wake[nodeID] = w
	w.ch <- struct{}{}
	return w.ch
}

// DetachSession forgets a session's wake channel if it is still the node's current one.
func (q *Queue) DetachSession(nodeID string, session uint64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if w := q.wake[nodeID]; w != nil && w.session == session {
		delete(q.wake, nodeID)
	}
}

func (q *Queue) wakeLocked(nodeID string) {
	if w := q.wake[nodeID]; w != nil {
		select {
		case w.ch <- struct{}{}:
		default:
		}
	}
}

// Unsent returns the node's unfinished commands not yet sent on session, by seq; a held
// command is not among them until Release lets it go.
func (q *Queue) Unsent(nodeID string, session uint64) []*fleetv1.Command {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []*fleetv1.Command
	for _, e := range q.byID {
		if e.rec.GetNodeId() == nodeID && !Terminal(e.rec.GetState()) && e.rec.GetState() != fleetv1.CommandState_COMMAND_STATE_HELD && e.sentOn != session {
			out = append(out, proto.Clone(e.rec.GetCommand()).(*fleetv1.Command))
		}
	}
	slices.SortFunc(out, func(a, b *fleetv1.Command) int { return cmp.Compare(a.GetSeq(), b.GetSeq()) })
	return out
}

// MarkSent records that id went out on session.
func (q *Queue) MarkSent(id string, session uint64) error {
	q.mu.Lock()
	e := q.byID[id]
	if e == nil {
		q.mu.Unlock()
		return nil
	}
	e.sentOn = session
	changed := e.rec.GetState() == fleetv1.CommandState_COMMAND_STATE_PENDING
	if changed {
		q.transitionLocked(e, fleetv1.CommandState_COMMAND_STATE_SENT, "sent to the agent", q.now())
	}
	cmd := e.rec.GetCommand()
	q.mu.Unlock()
	q.traceDelivered(cmd, session)
	if !changed {
		return nil
	}
	return q.persist(e)
}

// Update applies an agent's report on one of its node's commands. It returns the record when the
// command reached a terminal state, for the caller to apply its effects (drain, undrain).
func (q *Queue) Update(nodeID string, u *fleetv1.CommandUpdate) (*fleetv1.CommandRecord, error) {
	if err := checkID("command_update.id", u.GetId()); err != nil {
		return nil, err
	}
	q.mu.Lock()
	e := q.byID[u.GetId()]
	if e == nil || e.rec.GetNodeId() != nodeID {
		q.mu.Unlock()
		return nil, fmt.Errorf("%w: node %q has no command %q", check.ErrNodeNotFound, nodeID, u.GetId())
	}
	cur, next := e.rec.GetState(), u.GetState()
	if Terminal(cur) || next <= cur || !agentStates[next] {
		q.mu.Unlock()
		return nil, nil
	}
	if len(u.GetFields()) > 0 {
		e.rec.Fields = maps.Clone(u.GetFields())
	}
	q.transitionLocked(e, next, u.GetDetail(), q.now())
	var done *fleetv1.CommandRecord
	if Terminal(next) {
		done = proto.Clone(e.rec).(*fleetv1.CommandRecord)
	}
	q.mu.Unlock()
	return done, q.persist(e)
}

// Expire ends every command that was not started by its deadline, and writes again the commands
// whose last write failed.
func (q *Queue) Expire() {
	_, _ = q.Flush()
	now := q.now()
	var changed []*cmdEntry
	q.mu.Lock()
	for _, e := range q.byID {
		s := e.rec.GetState()
		if (s == fleetv1.CommandState_COMMAND_STATE_PENDING || s == fleetv1.CommandState_COMMAND_STATE_SENT) && now.After(e.rec.GetCommand().GetDeadline().AsTime()) {
			why := "deadline passed before the agent started it"
			if s == fleetv1.CommandState_COMMAND_STATE_PENDING {
				why = "deadline passed before the command could be delivered (node not connected)"
			}
			q.transitionLocked(e, fleetv1.CommandState_COMMAND_STATE_EXPIRED, why, now)
			changed = append(changed, e)
		}
	}
	q.mu.Unlock()
	for _, e := range changed {
		_ = q.persist(e)
	}
}

// Cancel cancels a command that has not been sent to its agent yet: pending, or held for a
// maintenance window.
func (q *Queue) Cancel(id, reason string) (*fleetv1.CommandRecord, error) {
	if err := checkID("id", id); err != nil {
		return nil, err
	}
	q.mu.Lock()
	e := q.byID[id]
	if e == nil {
		q.mu.Unlock()
		return nil, fmt.Errorf("%w: no command %q", check.ErrNodeNotFound, id)
	}
	if s := e.rec.GetState(); s != fleetv1.CommandState_COMMAND_STATE_PENDING && s != fleetv1.CommandState_COMMAND_STATE_HELD {
		q.mu.Unlock()
		return nil, fmt.Errorf("%w: command %s is %s; only a pending or held command (not yet delivered) can be cancelled, others run or expire at their deadline",
			check.ErrFailedPrecondition, id, strings.ToLower(strings.TrimPrefix(s.String(), "COMMAND_STATE_")))
	}
	detail := "cancelled"
	if reason != "" {
		detail = "cancelled: " + reason
	}
	q.transitionLocked(e, fleetv1.CommandState_COMMAND_STATE_CANCELLED, detail, q.now())
	out := proto.Clone(e.rec).(*fleetv1.CommandRecord)
	q.mu.Unlock()
	return out, q.persist(e)
}

// Get returns one command.
func (q *Queue) Get(id string) (*fleetv1.CommandRecord, error) {
	if err := checkID("id", id); err != nil {
		return nil, err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	e := q.byID[id]
	if e == nil {
		return nil, fmt.Errorf("%w: no command %q; list commands with fleetctl cmd list", check.ErrNodeNotFound, id)
	}
	return proto.Clone(e.rec).(*fleetv1.CommandRecord), nil
}

// List returns the matching commands, newest first.
func (q *Queue) List(req *fleetv1.ListCommandsRequest) []*fleetv1.CommandRecord {
	limit := int(req.GetLimit())
	if limit == 0 {
		limit = 100
	}
	out, _, _ := q.Page(req, nil, limit)
	return out
}

// Page returns up to size commands matching the request's filters whose key sorts before
// before (all when before is nil), newest first, with the last one's key and whether more
// follow. Keys are in creation order and never reused, so walking pages by key lists every
// command that exists throughout once, and none twice.
func (q *Queue) Page(req *fleetv1.ListCommandsRequest, before []byte, size int) ([]*fleetv1.CommandRecord, []byte, bool) {
	q.mu.Lock()
	var matched []*cmdEntry
	for _, e := range q.byID {
		if before != nil && slices.Compare(e.key, before) >= 0 {
			continue
		}
		r := e.rec
		if req.GetNodeId() != "" && r.GetNodeId() != req.GetNodeId() {
			continue
		}
		if len(req.GetStates()) > 0 && !slices.Contains(req.GetStates(), r.GetState()) {
			continue
		}
		if len(req.GetKinds()) > 0 && !slices.Contains(req.GetKinds(), r.GetCommand().GetKind()) {
			continue
		}
		matched = append(matched, e)
	}
	slices.SortFunc(matched, func(a, b *cmdEntry) int { return -slices.Compare(a.key, b.key) })
	more := len(matched) > size
	if more {
		matched = matched[:size]
	}
	out := make([]*fleetv1.CommandRecord, len(matched))
	var last []byte
	for i, e := range matched {
		out[i] = proto.Clone(e.rec).(*fleetv1.CommandRecord)
		last = slices.Clone(e.key)
	}
	q.mu.Unlock()
	return out, last, more
}

// Prune deletes finished commands older than the retention.
func (q *Queue) Prune() error {
	var keys [][]byte
	q.mu.Lock()
	cutoff := q.now().Add(-q.retention)
	for id, e := range q.byID {
		if Terminal(e.rec.GetState()) && e.rec.GetUpdated().AsTime().Before(cutoff) {
			keys = append(keys, e.key)
			delete(q.byID, id)
		}
	}
	q.mu.Unlock()
	return q.store.DeleteCommands(keys)
}

// Watch registers a watcher of command changes for nodeID ("" for all).
func (q *Queue) Watch(nodeID string) *cmdWatcher {
	q.mu.Lock()
	defer q.mu.Unlock()
	w := &cmdWatcher{nodeID: nodeID, C: make(chan *fleetv1.CommandRecord, q.watchCap)}
	q.watchers[w] = struct{}{}
	return w
}

// Unwatch removes w; safe after the queue dropped it.
func (q *Queue) Unwatch(w *cmdWatcher) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if _, ok := q.watchers[w]; ok {
		delete(q.watchers, w)
		close(w.C)
	}
}

// WatchErr returns why the queue closed w's channel.
func (q *Queue) WatchErr(w *cmdWatcher) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	return w.err
}

// CloseWatchers ends every watcher at shutdown.
func (q *Queue) CloseWatchers() {
	q.mu.Lock()
	defer q.mu.Unlock()
	for w := range q.watchers {
		w.err = check.ErrShuttingDown
		delete(q.watchers, w)
		close(w.C)
	}
}

func (q *Queue) publishLocked(e *cmdEntry) {
	var rec *fleetv1.CommandRecord
	for w := range q.watchers {
		if w.nodeID != "" && w.nodeID != e.rec.GetNodeId() {
			continue
		}
		if rec == nil {
			rec = proto.Clone(e.rec).(*fleetv1.CommandRecord)
		}
		select {
		case w.C <- rec:
		default:
			w.err = fmt.Errorf("%w: more than %d command events queued; watch again", check.ErrWatchBehind, q.watchCap)
			delete(q.watchers, w)
			close(w.C)
		}
	}
}

// SetRetention changes how long finished commands are kept.
func (q *Queue) SetRetention(d time.Duration) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.retention = d
}

// checkID refuses a malformed command id as InvalidArgument naming field.
func checkID(field, id string) error {
	if err := command.ValidID(id); err != nil {
		return check.Invalidf("%s: %v", field, err)
	}
	return nil
}
