package version

import (
	"runtime"
	"strings"
	"testing"
)

func TestString(t *testing.T) {
	s := String("dspyfleet-agent")
	for _, want := range []string{"dspyfleet-agent " + Version + " (revision ", runtime.Version(), runtime.GOOS + "/" + runtime.GOARCH} {
		if !strings.Contains(s, want) {
			t.Errorf("String() = %q, want it to contain %q", s, want)
		}
	}
	if Revision() == "" {
		t.Error("Revision() is empty")
	}
}
