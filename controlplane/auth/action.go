package auth

import (
	"context"

	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/dspyfleet/dspyfleet/controlplane/check"
	"github.com/dspyfleet/dspyfleet/controlplane/store"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// SystemIdentity is the identity of the audit records of actions the control plane takes on
// its own.
const SystemIdentity = "control-plane"

// Action is one action the control plane takes on its own (no caller asked for it), recorded in
// the audit trail as AUDIT_KIND_SYSTEM: Method names the action (e.g. node-gc), Target what it
// acts on, Detail why.
type Action struct {
	Method, Target, Detail string
	rec                    *fleetv1.AuditRecord
	key                    []byte
}

// BeginActions writes the records of acts, with code PENDING, in one transaction before they are
// taken (audit before the action): when the write fails none may be taken.
func (a *AuditLog) BeginActions(acts []*Action) error {
	for _, act := range acts {
		act.rec = &fleetv1.AuditRecord{
			Kind: fleetv1.AuditKind_AUDIT_KIND_SYSTEM, Identity: SystemIdentity, Method: act.Method,
			Target: check.Truncate(act.Target), Detail: act.Detail, Code: callPending,
		}
		act.key = a.stamp(act.rec)
	}
	return a.putActions(acts)
}

// FinishActions rewrites the records BeginActions wrote with each action's outcome (errs[i] is
// acts[i]'s; nil for done), in one transaction. A failed rewrite is logged: the actions happened.
func (a *AuditLog) FinishActions(acts []*Action, errs []error) {
	for i, act := range acts {
		st := status.Convert(check.ToStatus(errs[i]))
		act.rec.Code = st.Code().String()
		if errs[i] != nil {
			act.rec.Detail = act.Detail + "; not done: " + st.Message()
		}
	}
	if err := a.putActions(acts); err != nil {
		a.log.Error("audit records of actions not completed with their outcome", "actions", len(acts), "err", err)
	}
}

// putActions writes the records of acts in one transaction.
func (a *AuditLog) putActions(acts []*Action) error {
	if len(acts) == 0 {
		return nil
	}
	vals := make([][]byte, len(acts))
	for i, act := range acts {
		v, err := proto.Marshal(act.rec)
		if err != nil {
			return err
		}
		vals[i] = v
	}
	return a.store.Update(func(tx *store.Tx) error {
		b := tx.Bucket(store.Audit)
		for i, act := range acts {
			if err := b.Put(act.key, vals[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

// Credential names the credential the caller in ctx authenticated with, for limits kept per
// credential: the identity's name (a role, or node:<id> for a certificate or per-node token).
// It is false when the caller presented none: authentication is off or the method is public.
func Credential(ctx context.Context) (string, bool) {
	id, ok := IdentityFrom(ctx)
	if !ok || id.role == RoleAnyone {
		return "", false
	}
	return id.Name, true
}
