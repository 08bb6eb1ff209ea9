package agent

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dspyfleet/dspyfleet/pkg/command"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

func TestCustomActions(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "ran")
	b, err := buildActions(context.Background(), ActionsConfig{Custom: map[string]CustomAction{
		"rotate-keys": {Command: []string{"/bin/sh", "-c", "echo rotated > " + marker}},
	}}, "", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer b.close()
	run := func(action string) (Outcome, error) {
		return b.actions[command.Custom].Run(context.Background(), &fleetv1.Command{Kind: fleetv1.CommandKind_COMMAND_KIND_CUSTOM,
			Params: map[string]string{command.ParamAction: action}})
	}
	if _, err := run("rotate-keys"); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(marker); strings.TrimSpace(string(got)) != "rotated" {
		t.Fatalf("the action did not run: %q", got)
	}
	if _, err := run("reboot"); err == nil || !strings.Contains(err.Error(), `no custom action "reboot" is configured on this host (configured: rotate-keys)`) {
		t.Fatalf("unknown action: %v", err)
	}

	for name, bad := range map[string]CustomAction{"Bad Name": {Command: []string{"/bin/true"}}, "empty": {}} {
		_, err := buildActions(context.Background(), ActionsConfig{Custom: map[string]CustomAction{name: bad}}, "", slog.New(slog.DiscardHandler))
		if err == nil || !strings.Contains(err.Error(), "actions.custom") {
			t.Errorf("custom action %q %+v accepted: %v", name, bad, err)
		}
	}
}
