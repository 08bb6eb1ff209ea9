package controlplane_test

import (
	"runtime"
	"strings"
	"testing"

	"github.com/dspyfleet/dspyfleet/internal/fleettest"
	"github.com/dspyfleet/dspyfleet/internal/version"
)

// TestBuildInfoMetric: /metrics names the running build, as Prometheus' own *_build_info do.
func TestBuildInfoMetric(t *testing.T) {
	cp := fleettest.StartControlPlane(t, fleettest.FastConfig(t))
	want := `dspyfleet_build_info{goversion="` + runtime.Version() + `",revision="` + version.Revision() + `",version="` + version.Version + `"} 1`
	if m := scrape(t, cp); !strings.Contains(m, want) {
		t.Errorf("/metrics lacks %s", want)
	}
}
