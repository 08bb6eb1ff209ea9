package agent

import (
	"slices"
	"strings"
	"testing"
)

func TestFileLogsJournal(t *testing.T) {
	yaml := "logs:\n  journal: {units: [dspy.service], directory: /var/log/journal/remote}\nsecurity:\n  auth_journal: true\n"
	f, err := ParseFile("agent.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	if err := f.Check(cfg); err != nil {
		t.Fatal(err)
	}
	f.Apply(&cfg)
	if !slices.Equal(cfg.Logs.Journal.Units, []string{"dspy.service"}) || cfg.Logs.Journal.Directory != "/var/log/journal/remote" {
		t.Fatalf("journal %+v", cfg.Logs.Journal)
	}
	if !cfg.Logs.Enabled() || !cfg.Security.AuthJournal || !cfg.Security.Enabled() {
		t.Fatalf("logs enabled %v, auth journal %v", cfg.Logs.Enabled(), cfg.Security.AuthJournal)
	}

	bad, err := ParseFile("agent.yaml", []byte("logs:\n  journal: {units: [\"--all\"]}\n"))
	if err == nil {
		err = bad.Check(DefaultConfig())
	}
	if err == nil || !strings.Contains(err.Error(), "logs.journal.units[0]") {
		t.Fatalf("got %v, want an error naming logs.journal.units[0]", err)
	}
}
