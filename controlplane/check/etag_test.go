package check_test

import (
	"errors"
	"testing"

	"github.com/dspyfleet/dspyfleet/controlplane/check"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// TestEtag: an etag changes exactly when the value does, not with the etag field itself; a
// missing resource has the empty etag, and IfEtag refuses any other etag than the current one.
func TestEtag(t *testing.T) {
	a := &fleetv1.AlertRule{Name: "Hot", Condition: "node.host.cpu > 90"}
	b := &fleetv1.AlertRule{Name: "Hot", Condition: "node.host.cpu > 80"}
	withTag := &fleetv1.AlertRule{Name: "Hot", Condition: "node.host.cpu > 90", Etag: "anything"}
	if check.Etag(a) == "" || check.Etag(a) == check.Etag(b) || check.Etag(a) != check.Etag(withTag) {
		t.Fatalf("etags %q %q %q: want a non-empty etag that follows the value and ignores the etag field", check.Etag(a), check.Etag(b), check.Etag(withTag))
	}
	var missing *fleetv1.AlertRule
	if check.Etag(missing) != "" {
		t.Fatalf("a missing resource has etag %q, want none", check.Etag(missing))
	}
	for _, tt := range []struct {
		name     string
		want     string
		current  *fleetv1.AlertRule
		conflict bool
	}{
		{"no etag", "", a, false},
		{"current", check.Etag(a), a, false},
		{"stale", check.Etag(b), a, true},
		{"deleted since", check.Etag(a), nil, true},
	} {
		err := check.IfEtag(tt.want, tt.current, "rule Hot", "read it again")
		var ce *check.ConflictError
		if got := errors.As(err, &ce); got != tt.conflict || (got && (ce.Have != check.Etag(tt.current) || ce.Retry != "read it again")) {
			t.Errorf("%s: IfEtag = %v, want conflict %v", tt.name, err, tt.conflict)
		}
	}
}
