package maintenance

import (
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/dspyfleet/dspyfleet/pkg/maintenance"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// FuzzWindowSpec feeds arbitrary cron specs and limits to the window parser and validator: they
// never panic, every error is ErrInvalid naming a spec field, and an accepted recurring window
// has a next opening.
func FuzzWindowSpec(f *testing.F) {
	f.Add("0 3 * * SUN", int64(time.Hour), uint32(1), uint32(1))
	f.Add("*/5 * * * *", int64(time.Minute), uint32(2), uint32(0))
	f.Add("61 25 * * *", int64(0), uint32(0), uint32(9))
	f.Add("@every 1h", int64(-1), uint32(1), uint32(1))
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, spec string, d int64, maxU, minH uint32) {
		w := windowSpec(&fleetv1.MaintenanceSpec{Pool: "web", Cron: spec, Duration: durationpb.New(time.Duration(d)),
			MaxUnavailable: maxU, MinHealthy: minH, Tasks: []*fleetv1.MaintenanceTask{{Kind: fleetv1.MaintenanceTaskKind_MAINTENANCE_TASK_KIND_RESTART}}})
		err := w.Validate([]string{"a", "b", "c"}, now)
		if err != nil {
			if !errors.Is(err, maintenance.ErrInvalid) || !strings.Contains(err.Error(), "spec.") {
				t.Fatalf("Validate error %v is not ErrInvalid naming a field", err)
			}
			return
		}
		if _, _, ok := w.Opening(now); !ok {
			t.Fatalf("accepted window %q has no opening", spec)
		}
	})
}
