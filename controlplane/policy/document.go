package policy

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	udiff "github.com/aymanbagabas/go-udiff"
	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dspyfleet/dspyfleet/controlplane/check"
	"github.com/dspyfleet/dspyfleet/controlplane/cost"
	"github.com/dspyfleet/dspyfleet/controlplane/router"
	"github.com/dspyfleet/dspyfleet/controlplane/scaling"
	"github.com/dspyfleet/dspyfleet/controlplane/store"
	scalingmodel "github.com/dspyfleet/dspyfleet/pkg/scaling"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// Section is one part of the fleet policy document, owned by a subsystem.
type policySection struct {
	name string
	// Prepare validates the section's YAML value and returns the function that applies it.
	prepare func(v any) (apply func() error, err error)
	// Export returns the section's state in effect as a YAML-encodable value.
	export func() (any, error)
}

// Document keeps the fleet policy's revisions and applies documents section by section.
type Document struct {
	store    *store.Store
	now      func() time.Time
	sections []policySection

	mu sync.Mutex // one Apply or Rollback at a time
}

// New serves the fleet policy document made of sections, its revisions in st.
func New(st *store.Store, now func() time.Time, sections ...policySection) *Document {
	return &Document{store: st, now: now, sections: sections}
}

// parseDocument splits a YAML document into its sections, refusing unknown ones.
func (fc *Document) parseDocument(doc string) (map[string]any, error) {
	var top map[string]any
	if err := yaml.Unmarshal([]byte(doc), &top); err != nil {
		return nil, check.Invalidf("document: %v", err)
	}
	for name := range top {
		if !slices.ContainsFunc(fc.sections, func(s policySection) bool { return s.name == name }) {
			return nil, check.Invalidf("document: unknown section %q (known: %s)", name, strings.Join(fc.sectionNames(), ", "))
		}
	}
	return top, nil
}

func (fc *Document) sectionNames() []string {
	var names []string
	for _, s := range fc.sections {
		names = append(names, s.name)
	}
	return names
}

// Prepare validates every section of doc and returns their appliers and names.
func (fc *Document) Prepare(doc string) ([]func() error, []string, error) {
	top, err := fc.parseDocument(doc)
	if err != nil {
		return nil, nil, err
	}
	var applies []func() error
	var names []string
	for _, s := range fc.sections {
		v, ok := top[s.name]
		if !ok {
			continue
		}
		apply, err := s.prepare(v)
		if err != nil {
			return nil, nil, err
		}
		applies = append(applies, apply)
		names = append(names, s.name)
	}
	return applies, names, nil
}

// Apply validates and applies doc, then stores the resulting policy as a new revision.
func (fc *Document) Apply(doc, message, author string, rollbackOf uint64) (*fleetv1.ConfigRevision, error) {
	if strings.TrimSpace(message) == "" {
		return nil, check.Invalidf("message: is empty; say why the policy changes")
	}
	fc.mu.Lock()
	defer fc.mu.Unlock()
	return fc.applyLocked(doc, message, author, rollbackOf)
}

// applyLocked is Apply with fc.mu held.
func (fc *Document) applyLocked(doc, message, author string, rollbackOf uint64) (*fleetv1.ConfigRevision, error) {
	applies, _, err := fc.Prepare(doc)
	if err != nil {
		return nil, err
	}
	for _, apply := range applies {
		if err := apply(); err != nil {
			return nil, err
		}
	}
	current, err := fc.Export()
	if err != nil {
		return nil, err
	}
	rev := &fleetv1.ConfigRevision{Author: author, Time: timestamppb.New(fc.now()), Message: message, Document: current, RollbackOf: rollbackOf, Etag: Etag(current)}
	err = fc.store.Update(func(tx *store.Tx) error {
		b := tx.Bucket(store.ConfigRevisions)
		rev.Number = 1
		if k, _ := b.Cursor().Last(); k != nil {
			rev.Number = binary.BigEndian.Uint64(k) + 1
		}
		raw, err := proto.Marshal(rev)
		if err != nil {
			return err
		}
		return b.Put(binary.BigEndian.AppendUint64(nil, rev.Number), raw)
	})
	if err != nil {
		return nil, fmt.Errorf("store config revision: %w", err)
	}
	return rev, nil
}

// Rollback applies revision n's document again as a new revision, and returns it with the diff
// it applied: from the policy in effect to revision n's. With dryRun it applies nothing and
// returns the diff alone. The diff and the apply run under one lock, so the diff is what
// changed.
func (fc *Document) Rollback(n uint64, message, author string, dryRun bool) (*fleetv1.ConfigRevision, string, error) {
	if strings.TrimSpace(message) == "" {
		return nil, "", check.Invalidf("message: is empty; say why the policy changes")
	}
	old, err := fc.Revision(n)
	if err != nil {
		return nil, "", err
	}
	fc.mu.Lock()
	defer fc.mu.Unlock()
	current, err := fc.Export()
	if err != nil {
		return nil, "", err
	}
	diff := udiff.Unified("in effect", fmt.Sprintf("revision %d", n), current, old.GetDocument())
	if dryRun {
		return nil, diff, nil
	}
	rev, err := fc.applyLocked(old.GetDocument(), message, author, n)
	return rev, diff, err
}

// Export renders the policy in effect, every section, as YAML with sorted keys.
func (fc *Document) Export() (string, error) {
	doc := make(map[string]any, len(fc.sections))
	for _, s := range fc.sections {
		v, err := s.export()
		if err != nil {
			return "", err
		}
		doc[s.name] = v
	}
	out, err := yaml.Marshal(doc)
	return string(out), err
}

// Revision returns one stored revision.
func (fc *Document) Revision(n uint64) (*fleetv1.ConfigRevision, error) {
	var rev *fleetv1.ConfigRevision
	err := fc.store.View(func(tx *store.Tx) error {
		raw := tx.Bucket(store.ConfigRevisions).Get(binary.BigEndian.AppendUint64(nil, n))
		if raw == nil {
			return fmt.Errorf("%w: no config revision %d; list them with fleetctl config history", check.ErrNotFound, n)
		}
		rev = &fleetv1.ConfigRevision{}
		if err := proto.Unmarshal(raw, rev); err != nil {
			return fmt.Errorf("%w: config revision %d: %v", store.ErrCorruptStore, n, err)
		}
		return nil
	})
	return rev, err
}

// Revisions returns up to limit revisions numbered below before (every one when before is
// 0), newest first, without documents, and whether older ones follow. It seeks to before in
// the store's key order, so a page costs its size, not the history's.
func (fc *Document) Revisions(before uint64, limit int) ([]*fleetv1.ConfigRevision, bool, error) {
	var out []*fleetv1.ConfigRevision
	more := false
	err := fc.store.View(func(tx *store.Tx) error {
		c := tx.Bucket(store.ConfigRevisions).Cursor()
		k, v := c.Last()
		if before != 0 {
			if k, _ = c.Seek(binary.BigEndian.AppendUint64(nil, before)); k == nil {
				k, v = c.Last()
			} else {
				k, v = c.Prev()
			}
		}
		for ; k != nil; k, v = c.Prev() {
			if len(out) == limit {
				more = true
				return nil
			}
			rev := &fleetv1.ConfigRevision{}
			if err := proto.Unmarshal(v, rev); err != nil {
				return fmt.Errorf("%w: config revision %x: %v", store.ErrCorruptStore, k, err)
			}
			rev.Document = ""
			out = append(out, rev)
		}
		return nil
	})
	return out, more, err
}

// Diff returns a unified diff from revision from to revision to (0: the policy in effect).
func (fc *Document) Diff(from, to uint64) (string, error) {
	a, err := fc.Revision(from)
	if err != nil {
		return "", err
	}
	toDoc, toName := "", fmt.Sprintf("revision %d", to)
	if to == 0 {
		toName = "in effect"
		if toDoc, err = fc.Export(); err != nil {
			return "", err
		}
	} else {
		b, err := fc.Revision(to)
		if err != nil {
			return "", err
		}
		toDoc = b.GetDocument()
	}
	return udiff.Unified(fmt.Sprintf("revision %d", from), toName, a.GetDocument(), toDoc), nil
}

// protoSection converts a YAML value to a proto message through protojson, which accepts the
// API's field names (snake_case or lowerCamelCase) and refuses unknown fields; where names the
// value in errors.
func protoSection(v any, m proto.Message, where string) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return check.Invalidf("%s: %v", where, err)
	}
	if err := protojson.Unmarshal(raw, m); err != nil {
		return check.Invalidf("%s: %v", where, err)
	}
	return nil
}

// exportProto renders m as a YAML-encodable value with the API's snake_case names.
func exportProto(m proto.Message) (any, error) {
	raw, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(m)
	if err != nil {
		return nil, err
	}
	var v any
	err = json.Unmarshal(raw, &v)
	return v, err
}

// RoutingSection is the "routing" section: a policy per pool. Applying it replaces every
// pool's policy: a pool left out goes back to the defaults.
func RoutingSection(rt *router.Router) policySection {
	return policySection{
		name: "routing",
		prepare: func(v any) (func() error, error) {
			pools, ok := v.(map[string]any)
			if v != nil && !ok {
				return nil, check.Invalidf("routing: must map pool names to routing policies")
			}
			policies := make(map[string]*fleetv1.RoutingPolicy, len(pools))
			for _, pool := range slices.Sorted(maps.Keys(pools)) {
				if !check.ValidID(pool) {
					return nil, check.Invalidf("routing.%s: %q is not a valid pool name", check.Truncate(pool), check.Truncate(pool))
				}
				body := pools[pool]
				if m, ok := body.(map[string]any); ok {
					if s, ok := m["strategy"].(string); ok && !strings.HasPrefix(s, "STRATEGY_") {
						m["strategy"] = "STRATEGY_" + strings.ToUpper(s)
					}
				}
				pp := &fleetv1.RoutingPolicy{}
				if err := protoSection(body, pp, "routing."+pool); err != nil {
					return nil, err
				}
				p, err := router.PolicyFromProto(pp)
				if err != nil {
					return nil, fmt.Errorf("routing.%s: %w", pool, err)
				}
				policies[pool] = router.PolicyToProto(p)
			}
			return func() error { return rt.ReplacePolicies(policies) }, nil
		},
		export: func() (any, error) {
			out := map[string]any{}
			for pool, pp := range rt.StoredPolicies() {
				v, err := exportProto(pp)
				if err != nil {
					return nil, err
				}
				if m, ok := v.(map[string]any); ok {
					if s, ok := m["strategy"].(string); ok {
						m["strategy"] = strings.ToLower(strings.TrimPrefix(s, "STRATEGY_"))
					}
				}
				out[pool] = v
			}
			return out, nil
		},
	}
}

// ScalingSection is the "scaling" section: a scaling policy per pool, the fields of
// ScalingService.SetPolicy. Applying it replaces every pool's policy: a pool left out is no
// longer scaled (its nodes stay).
func ScalingSection(sc *scaling.Scaler) policySection {
	return policySection{
		name: "scaling",
		prepare: func(v any) (func() error, error) {
			pools, ok := v.(map[string]any)
			if v != nil && !ok {
				return nil, check.Invalidf("scaling: must map pool names to scaling policies")
			}
			type parsed struct {
				pb  *fleetv1.ScalingPolicy
				p   scalingmodel.Policy
				act scaling.Actuator
			}
			policies := make(map[string]parsed, len(pools))
			for _, pool := range slices.Sorted(maps.Keys(pools)) {
				if !check.ValidID(pool) {
					return nil, check.Invalidf("scaling.%s: %q is not a valid pool name", check.Truncate(pool), check.Truncate(pool))
				}
				pp := &fleetv1.ScalingPolicy{}
				if err := protoSection(pools[pool], pp, "scaling."+pool); err != nil {
					return nil, err
				}
				p, act, err := scaling.PolicyFromProto(scaling.WithDefaults(pp, sc.Defaults), sc.HookDir)
				if err != nil {
					return nil, fmt.Errorf("scaling.%s: %w", pool, err)
				}
				policies[pool] = parsed{scaling.PolicyToProto(p, act), p, act}
			}
			return func() error {
				for pool := range sc.Policies() {
					if _, keep := policies[pool]; !keep {
						if err := scaling.DeletePolicy(sc.Store, pool); err != nil {
							return err
						}
						sc.RemovePolicy(pool)
					}
				}
				for pool, x := range policies {
					if err := scaling.PutPolicy(sc.Store, pool, x.pb); err != nil {
						return err
					}
					sc.SetPolicy(pool, x.pb, x.p, x.act)
				}
				return nil
			}, nil
		},
		export: func() (any, error) {
			out := map[string]any{}
			for pool, pb := range sc.Policies() {
				v, err := exportProto(pb)
				if err != nil {
					return nil, err
				}
				out[pool] = v
			}
			return out, nil
		},
	}
}

// BudgetsSection is the "budgets" section: every budget by name, the fields of
// CostService.SetBudget. Applying it replaces every budget: one left out is deleted.
func BudgetsSection(c *cost.Tracker, clock func() time.Time) policySection {
	return policySection{
		name: "budgets",
		prepare: func(v any) (func() error, error) {
			named, ok := v.(map[string]any)
			if v != nil && !ok {
				return nil, check.Invalidf("budgets: must map budget names to budgets")
			}
			budgets := make(map[string]*fleetv1.Budget, len(named))
			for _, name := range slices.Sorted(maps.Keys(named)) {
				b := &fleetv1.Budget{}
				if err := protoSection(named[name], b, "budgets."+name); err != nil {
					return nil, err
				}
				if b.GetName() != "" && b.GetName() != name {
					return nil, check.Invalidf("budgets.%s.name: %q differs from its key; leave it out", check.Truncate(name), check.Truncate(b.GetName()))
				}
				b.Name = name
				if _, _, err := cost.BudgetFromProto(b); err != nil {
					return nil, fmt.Errorf("budgets.%s: %w", name, err)
				}
				budgets[name] = b
			}
			return func() error {
				now := clock()
				listed, err := c.ListBudgets()
				if err != nil {
					return err
				}
				for _, st := range listed.GetBudgets() {
					if _, keep := budgets[st.GetBudget().GetName()]; !keep {
						if err := c.DeleteBudget(st.GetBudget().GetName()); err != nil {
							return err
						}
					}
				}
				for _, name := range slices.Sorted(maps.Keys(budgets)) {
					if _, err := c.SetBudget(budgets[name], now); err != nil {
						return err
					}
				}
				return nil
			}, nil
		},
		export: func() (any, error) {
			listed, err := c.ListBudgets()
			if err != nil {
				return nil, err
			}
			out := map[string]any{}
			for _, st := range listed.GetBudgets() {
				b := proto.Clone(st.GetBudget()).(*fleetv1.Budget)
				name := b.GetName()
				b.Name = ""
				v, err := exportProto(b)
				if err != nil {
					return nil, err
				}
				out[name] = v
			}
			return out, nil
		},
	}
}

// PricesSection is the "prices" section: the price table, the fields of CostService.SetPrices.
func PricesSection(c *cost.Tracker) policySection {
	return policySection{
		name: "prices",
		prepare: func(v any) (func() error, error) {
			pp := &fleetv1.Prices{}
			if err := protoSection(v, pp, "prices"); err != nil {
				return nil, err
			}
			t, err := cost.ValidatePrices(pp)
			if err != nil {
				return nil, fmt.Errorf("prices: %w", err)
			}
			raw, err := proto.Marshal(cost.TableToProto(t))
			if err != nil {
				return nil, err
			}
			return func() error { return c.SetPrices(t, raw) }, nil
		},
		export: func() (any, error) {
			pp := c.PricesProto()
			return exportProto(pp)
		},
	}
}
