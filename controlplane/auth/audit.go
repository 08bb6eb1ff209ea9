package auth

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dspyfleet/dspyfleet/controlplane/check"
	"github.com/dspyfleet/dspyfleet/controlplane/store"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// MaxAuditLimit is the largest limit a ListAudit call may give.
const MaxAuditLimit = 1000

// auditLog is the audit trail in the audit bucket: every admin call that changes state (the
// methods with write access) and every security event. Records are keyed by time, so a listing
// scans backwards from the newest and pruning forwards from the oldest.
type AuditLog struct {
	store     *store.Store
	now       func() time.Time
	log       *slog.Logger
	retention time.Duration
	seq       atomic.Uint32
	// events counts security events by event.
	events *prometheus.CounterVec
}

// add stores rec, stamped with the time and an id. A record that cannot be stored is logged:
// the event it describes has already happened.
func (a *AuditLog) add(rec *fleetv1.AuditRecord) {
	if err := a.put(a.stamp(rec), rec); err != nil {
		a.log.Error("audit record not stored", "kind", rec.GetKind(), "event", rec.GetEvent(), "method", rec.GetMethod(), "identity", rec.GetIdentity(), "err", err)
	}
}

// stamp sets rec's time and id and returns its key.
func (a *AuditLog) stamp(rec *fleetv1.AuditRecord) []byte {
	now := a.now()
	key := binary.BigEndian.AppendUint64(nil, uint64(now.UnixNano()))
	key = binary.BigEndian.AppendUint32(key, a.seq.Add(1))
	rec.Id, rec.Time = hex.EncodeToString(key), timestamppb.New(now)
	return key
}

// put writes rec under key, replacing the record stored there.
func (a *AuditLog) put(key []byte, rec *fleetv1.AuditRecord) error {
	val, err := proto.Marshal(rec)
	if err != nil {
		return err
	}
	return a.store.Update(func(tx *store.Tx) error { return tx.Bucket(store.Audit).Put(key, val) })
}

// SecurityEvent records a security event about the caller in ctx and logs it.
func (a *AuditLog) SecurityEvent(ctx context.Context, ev fleetv1.SecurityEvent, method, target string, err error) {
	rec := &fleetv1.AuditRecord{
		Kind: fleetv1.AuditKind_AUDIT_KIND_SECURITY, Event: ev, Peer: PeerAddr(ctx), Method: method, Target: target,
	}
	if id, ok := IdentityFrom(ctx); ok {
		rec.Identity = id.Name
	}
	if err != nil {
		st := status.Convert(check.ToStatus(err))
		rec.Code, rec.Detail = st.Code().String(), st.Message()
	}
	a.events.WithLabelValues(strings.ToLower(strings.TrimPrefix(ev.String(), "SECURITY_EVENT_"))).Inc()
	a.log.Warn("security event", "event", ev, "identity", rec.GetIdentity(), "peer", rec.GetPeer(), "method", method, "target", target, "detail", rec.GetDetail())
	a.add(rec)
}

// callPending is the code of an admin call's record written before the call runs; the
// record is rewritten with the call's code once it returned.
const callPending = "PENDING"

// beginCall writes the record of a call with write access before the call runs (audit before
// ack): a call whose record cannot be written is refused with Unavailable and changes nothing.
// It returns the record and its key, for finishCall.
func (a *AuditLog) beginCall(ctx context.Context, method string, req any) (*fleetv1.AuditRecord, []byte, error) {
	rec := &fleetv1.AuditRecord{
		Kind: fleetv1.AuditKind_AUDIT_KIND_ADMIN_CALL, Peer: PeerAddr(ctx), Method: method, Code: callPending,
	}
	if id, ok := IdentityFrom(ctx); ok {
		rec.Identity = id.Name
	}
	if m, ok := req.(proto.Message); ok {
		rec.Target = targetOf(m.ProtoReflect())
	}
	key := a.stamp(rec)
	if err := a.put(key, rec); err != nil {
		a.log.Error("call refused: its audit record cannot be written", "method", method, "identity", rec.GetIdentity(), "target", rec.GetTarget(), "err", err)
		return nil, nil, status.Errorf(codes.Unavailable,
			"%s was not run: its audit record cannot be written (%v); the control plane's store cannot write, see /readyz, free space in or repair the data directory, then retry", method, err)
	}
	return rec, key, nil
}

// finishCall rewrites the record beginCall wrote with the call's outcome and what the handler
// noted (NoteAudit). A record that cannot be rewritten is logged: the call has happened and its
// record keeps the code PENDING.
func (a *AuditLog) finishCall(rec *fleetv1.AuditRecord, key []byte, err error, note *auditNote) {
	rec.Code = status.Code(err).String()
	var detail []string
	if note != nil {
		note.mu.Lock()
		detail = slices.Clone(note.text)
		note.mu.Unlock()
	}
	if err != nil {
		detail = append(detail, status.Convert(err).Message())
	}
	rec.Detail = strings.Join(detail, "; ")
	if perr := a.put(key, rec); perr != nil {
		a.log.Error("audit record of a call not completed with its outcome", "method", rec.GetMethod(), "identity", rec.GetIdentity(), "code", rec.GetCode(), "err", perr)
	}
}

// auditNote holds what a handler adds to the detail of its call's audit record.
type auditNote struct {
	mu   sync.Mutex
	text []string
}

// auditNoteKey is the context key of a call's auditNote.
type auditNoteKey struct{}

// NoteAudit adds text to the detail of the audit record of the unary call ctx belongs to, e.g.
// that a command overrode a maintenance window. Outside an audited call it does nothing. The
// text must hold no secret: the audit trail is readable by every admin.
func NoteAudit(ctx context.Context, text string) {
	if n, ok := ctx.Value(auditNoteKey{}).(*auditNote); ok {
		n.mu.Lock()
		n.text = append(n.text, text)
		n.mu.Unlock()
	}
}

// targetFields are the request fields that name what a call is about, in order of preference.
var targetFields = []protoreflect.Name{"id", "node_id", "pool", "name"}

// targetOf returns the first non-empty target field of a request.
func targetOf(m protoreflect.Message) string {
	fields := m.Descriptor().Fields()
	for _, name := range targetFields {
		fd := fields.ByName(name)
		if fd != nil && fd.Kind() == protoreflect.StringKind && !fd.IsList() && !fd.IsMap() {
			if s := m.Get(fd).String(); s != "" {
				return check.Truncate(s)
			}
		}
	}
	return ""
}

// unaryInterceptor records every unary call with write access before the handler runs, and its
// outcome once the handler returned.
func (a *AuditLog) unaryInterceptor(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if AccessRules[info.FullMethod] != Write {
		return handler(ctx, req)
	}
	rec, key, err := a.beginCall(ctx, info.FullMethod, req)
	if err != nil {
		return nil, err
	}
	note := &auditNote{}
	resp, err := handler(context.WithValue(ctx, auditNoteKey{}, note), req)
	a.finishCall(rec, key, err, note)
	return resp, err
}

// streamInterceptor records every stream with write access before the handler runs, and its
// outcome once the handler returned.
func (a *AuditLog) streamInterceptor(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if AccessRules[info.FullMethod] != Write {
		return handler(srv, ss)
	}
	rec, key, err := a.beginCall(ss.Context(), info.FullMethod, nil)
	if err != nil {
		return err
	}
	err = handler(srv, ss)
	a.finishCall(rec, key, err, nil)
	return err
}

// List returns up to size records matching req, newest first from the newest stored before the
// key before (nil: from the newest), the last one's key, and whether more follow: one page.
func (a *AuditLog) List(req *fleetv1.ListAuditRequest, before []byte, size int) ([]*fleetv1.AuditRecord, []byte, bool, error) {
	var since []byte
	if req.GetSince() != nil {
		since = binary.BigEndian.AppendUint64(nil, uint64(req.GetSince().AsTime().UnixNano()))
	}
	var out []*fleetv1.AuditRecord
	var last []byte
	more := false
	err := a.store.View(func(tx *store.Tx) error {
		c := tx.Bucket(store.Audit).Cursor()
		k, v := c.Last()
		if before != nil {
			if k, v = c.Seek(before); k == nil {
				k, v = c.Last()
			} else {
				k, v = c.Prev()
			}
		}
		for ; k != nil; k, v = c.Prev() {
			if since != nil && bytes.Compare(k[:8], since) < 0 {
				break
			}
			rec := &fleetv1.AuditRecord{}
			if err := proto.Unmarshal(v, rec); err != nil {
				return err
			}
			if len(req.GetKinds()) > 0 && !slices.Contains(req.GetKinds(), rec.GetKind()) {
				continue
			}
			if req.GetTarget() != "" && rec.GetTarget() != req.GetTarget() {
				continue
			}
			if len(out) == size {
				more = true
				return nil
			}
			out = append(out, rec)
			last = slices.Clone(k)
		}
		return nil
	})
	return out, last, more, err
}

// Prune deletes records older than the retention.
func (a *AuditLog) Prune() error {
	cutoff := binary.BigEndian.AppendUint64(nil, uint64(a.now().Add(-a.retention).UnixNano()))
	return a.store.Update(func(tx *store.Tx) error {
		return tx.Bucket(store.Audit).DeleteRange(nil, cutoff)
	})
}
