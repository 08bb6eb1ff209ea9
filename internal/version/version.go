// Package version holds the version every dspyfleet binary reports: set at build time with
// -ldflags "-X github.com/dspyfleet/dspyfleet/internal/version.Version=1.2.3", with the VCS
// revision and Go version read from the binary's build information.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Version is the release version; "dev" in a build without the ldflags.
var Version = "dev"

// Revision is the VCS commit the binary was built from ("unknown" outside a checkout), with
// "+dirty" when the tree had changes.
func Revision() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	rev, dirty := "unknown", false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "+dirty"
	}
	return rev
}

// String is the line `--version` prints for binary: "dspyfleet-agent 1.2.3 (revision
// 0123456789ab, go1.26.8, linux/amd64)".
func String(binary string) string {
	return fmt.Sprintf("%s %s (revision %s, %s, %s/%s)", binary, Version, Revision(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
