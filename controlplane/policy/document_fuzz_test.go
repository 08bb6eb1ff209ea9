package policy

import (
	"errors"
	"testing"

	"github.com/dspyfleet/dspyfleet/controlplane/check"
	"github.com/dspyfleet/dspyfleet/controlplane/router"
	"github.com/dspyfleet/dspyfleet/controlplane/store"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// FuzzConfigDocument feeds arbitrary documents to the fleet policy parser: it must never panic
// and must reject with ErrInvalidArgument.
func FuzzConfigDocument(f *testing.F) {
	f.Add("routing:\n  web:\n    strategy: least_connections\n")
	f.Add("routing:\n  web:\n    outlier_detection: {error_rate: 2, interval: 10s}\n")
	f.Add("routing: [1]\n")
	f.Add("other: {}\n")
	st, err := store.Open(f.TempDir(), 0)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = st.Close() })
	rt := &router.Router{Policies: map[string]*fleetv1.RoutingPolicy{}}
	fc := New(st, nil, RoutingSection(rt))
	f.Fuzz(func(t *testing.T, doc string) {
		if _, _, err := fc.Prepare(doc); err != nil && !errors.Is(err, check.ErrInvalidArgument) {
			t.Fatalf("rejected without ErrInvalidArgument: %v", err)
		}
	})
}
