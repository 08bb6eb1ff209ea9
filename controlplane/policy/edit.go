package policy

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/proto"

	"github.com/dspyfleet/dspyfleet/controlplane/check"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// The fleet policy document is the one writer of every policy: ConfigService.Apply and
// Rollback write whole sections, and the per-resource RPCs (RoutingService.SetPolicy,
// ScalingService.SetPolicy, CostService.SetBudget, DeleteBudget and SetPrices) are forwarders
// that Edit one entry of a section or Replace a section. Every change is a
// revision, and every section's subsystem is written only by the section's applier.

// Etag is the etag of an exported value (a document, a section entry): a digest of its
// canonical JSON, so it changes exactly when the value does.
func Etag(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		b = fmt.Appendf(nil, "%v", v)
	}
	sum := sha256.Sum256(b)
	return base64.RawURLEncoding.EncodeToString(sum[:12])
}

// ExportEtag renders the policy in effect, as Export, with its etag.
func (fc *Document) ExportEtag() (doc, etag string, err error) {
	doc, err = fc.Export()
	return doc, Etag(doc), err
}

// ApplyIf is Apply of a document edited from the policy whose etag is etag: when etag is set
// and the policy in effect has another, nothing changes and the error is a
// *check.ConflictError.
func (fc *Document) ApplyIf(etag, doc, message, author string) (*fleetv1.ConfigRevision, error) {
	if strings.TrimSpace(message) == "" {
		return nil, check.Invalidf("message: is empty; say why the policy changes")
	}
	fc.mu.Lock()
	defer fc.mu.Unlock()
	if etag != "" {
		_, have, err := fc.ExportEtag()
		if err != nil {
			return nil, err
		}
		if have != etag {
			return nil, &check.ConflictError{What: "the fleet policy", Want: etag, Have: have,
				Retry: "export the policy again (fleetctl config export), redo the change on it and apply with the new etag"}
		}
	}
	return fc.applyLocked(doc, message, author, 0)
}

// EntryEtag is the etag of one entry of a section (a pool's routing or scaling policy) as
// the section exports it; an entry the section does not hold has the etag of nothing.
func (fc *Document) EntryEtag(section, key string) (string, error) {
	entries, err := fc.entries(section)
	if err != nil {
		return "", err
	}
	return Etag(entries[key]), nil
}

// Edit sets one entry of a section (a pool's routing or scaling policy, a budget) to value, or
// removes it when value is nil, through the section's validation and applier like Apply, and
// stores the result as a new revision. Removing an entry the section does not hold fails with
// check.ErrNotFound. When
// etag is set and the entry's etag (EntryEtag) is another, nothing changes and the error is a
// *check.ConflictError whose retry hint is retry. It returns the revision and the entry's new
// etag.
func (fc *Document) Edit(section, key string, value proto.Message, etag, retry, message, author string) (*fleetv1.ConfigRevision, string, error) {
	var v any
	if value != nil {
		var err error
		if v, err = exportProto(value); err != nil {
			return nil, "", err
		}
	}
	fc.mu.Lock()
	defer fc.mu.Unlock()
	entries, err := fc.entries(section)
	if err != nil {
		return nil, "", err
	}
	if have := Etag(entries[key]); etag != "" && have != etag {
		return nil, "", &check.ConflictError{What: entryName(section, key), Want: etag, Have: have, Retry: retry}
	}
	if _, ok := entries[key]; !ok && v == nil {
		return nil, "", fmt.Errorf("%w: the %s section has no %q", check.ErrNotFound, section, check.Truncate(key))
	}
	if v == nil {
		delete(entries, key)
	} else {
		entries[key] = v
	}
	doc, err := yaml.Marshal(map[string]any{section: entries})
	if err != nil {
		return nil, "", err
	}
	rev, err := fc.applyLocked(string(doc), message, author, 0)
	if err != nil {
		return nil, "", err
	}
	if entries, err = fc.entries(section); err != nil {
		return nil, "", err
	}
	return rev, Etag(entries[key]), nil
}

// entryName names an entry of a section in a conflict: "the routing policy of pool web",
// "budget team-a".
func entryName(section, key string) string {
	if section == "budgets" {
		return "budget " + key
	}
	return fmt.Sprintf("the %s policy of pool %s", section, key)
}

// SectionEtag is the etag of a whole section as it exports (the price table).
func (fc *Document) SectionEtag(section string) (string, error) {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	v, err := fc.sectionExport(section)
	return Etag(v), err
}

// sectionExport is the exported value of a section.
func (fc *Document) sectionExport(section string) (any, error) {
	i := slices.IndexFunc(fc.sections, func(s policySection) bool { return s.name == section })
	if i < 0 {
		return nil, fmt.Errorf("policy document has no section %q", section)
	}
	return fc.sections[i].export()
}

// entries returns a copy of the exported entries of a section that maps names to values.
func (fc *Document) entries(section string) (map[string]any, error) {
	v, err := fc.sectionExport(section)
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("policy section %q is not a map of entries", section)
	}
	return maps.Clone(m), nil
}

// Replace makes value the whole of a section that holds one value (the price table), through
// the section's validation and applier like Apply, and stores the result as a new revision.
// When etag is set and the section's etag (SectionEtag) is another, nothing changes and the
// error is a *check.ConflictError whose retry hint is retry. It returns the revision and the
// section's new etag.
func (fc *Document) Replace(section string, value proto.Message, etag, retry, message, author string) (*fleetv1.ConfigRevision, string, error) {
	v, err := exportProto(value)
	if err != nil {
		return nil, "", err
	}
	doc, err := yaml.Marshal(map[string]any{section: v})
	if err != nil {
		return nil, "", err
	}
	fc.mu.Lock()
	defer fc.mu.Unlock()
	cur, err := fc.sectionExport(section)
	if err != nil {
		return nil, "", err
	}
	if have := Etag(cur); etag != "" && have != etag {
		return nil, "", &check.ConflictError{What: "the " + section + " section", Want: etag, Have: have, Retry: retry}
	}
	rev, err := fc.applyLocked(string(doc), message, author, 0)
	if err != nil {
		return nil, "", err
	}
	if cur, err = fc.sectionExport(section); err != nil {
		return nil, "", err
	}
	return rev, Etag(cur), nil
}
