package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dspyfleet/dspyfleet/internal/fleettest"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// TestConfigApplyConflictAndFieldViolations: an exported document carries the etag of the
// policy it came from; applying it after another change fails with the conflict and how to
// retry, and an invalid value prints the field it is wrong in.
func TestConfigApplyConflictAndFieldViolations(t *testing.T) {
	cp := fleettest.StartControlPlane(t, fleettest.FastConfig(t))
	t.Setenv("DSPYFLEET_ADDR", cp.GRPCAddr())
	ctx := context.Background()
	fleetctl := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := run(ctx, args, &out, &errOut)
		return code, out.String(), errOut.String()
	}
	code, exported, errOut := fleetctl("config", "export")
	if code != exitOK || !strings.HasPrefix(exported, etagLine) {
		t.Fatalf("export: %d %q %q, want a document starting with %q", code, exported, errOut, etagLine)
	}
	edited := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(edited, []byte(strings.Replace(exported, "routing: {}", "routing:\n  web:\n    strategy: least_latency", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	// Another operator changes the policy after the export.
	rc := fleetv1.NewRoutingServiceClient(fleettest.Dial(t, cp.GRPCAddr()))
	if _, err := rc.SetPolicy(ctx, &fleetv1.RoutingServiceSetPolicyRequest{Pool: "api", Policy: &fleetv1.RoutingPolicy{}}); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = fleetctl("config", "apply", edited, "-m", "faster web")
	if code != exitError || !strings.Contains(errOut, "Aborted") || !strings.Contains(errOut, "export the policy again (fleetctl config export)") {
		t.Fatalf("apply after a concurrent change: %d %q, want Aborted with how to retry", code, errOut)
	}
	if pol, err := rc.GetPolicy(ctx, &fleetv1.RoutingServiceGetPolicyRequest{Pool: "web"}); err == nil && pol.GetConfigured() {
		t.Fatalf("the refused apply set web's policy: %v", pol)
	}

	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("routing:\n  web:\n    panic_threshold: 7\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = fleetctl("config", "apply", bad, "-m", "bad")
	if code != exitError || !strings.Contains(errOut, "InvalidArgument") || !strings.Contains(errOut, "  field policy.panic_threshold: 7 must be within") {
		t.Fatalf("apply with a bad panic threshold: %d %q, want the field violation printed", code, errOut)
	}
}
