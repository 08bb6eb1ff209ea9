package logs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dspyfleet/dspyfleet/internal/fleettest"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

func TestAnalyzerCountsPerTemplate(t *testing.T) {
	a, err := New(Config{Files: []string{"x"}}, fleettest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		a.Add(fmt.Sprintf("INFO served request %d in %dms", i, i*3))
	}
	a.Add("ERROR timeout calling model gpt-4o after 30s")
	a.Add("ERROR timeout calling model gpt-4o after 31s")
	a.Add("WARN slow tool call")
	m := a.Flush()
	if m.GetLines() != 8 || m.GetErrors() != 2 || m.GetWarnings() != 1 || m.GetNewTemplates() != 3 || m.GetTemplatesTotal() != 3 {
		t.Fatalf("totals %v, want 8 lines, 2 errors, 1 warning, 3 new of 3", m)
	}
	first := m.GetTemplates()[0]
	if first.GetErrors() != 2 || first.GetTemplate() != "ERROR timeout calling model <*> after <*>" || !first.GetNew() {
		t.Fatalf("first template %v, want the new error template first", first)
	}
	if len(first.GetSamples()) != 0 {
		t.Fatalf("samples %q sent without sample_errors", first.GetSamples())
	}
	a.Add("INFO served request 9 in 1ms")
	m = a.Flush()
	if m.GetNewTemplates() != 0 || len(m.GetTemplates()) != 1 || m.GetTemplates()[0].GetNew() || m.GetTemplates()[0].GetLines() != 1 {
		t.Fatalf("second window %v, want one known template with one line", m)
	}
}

func TestAnalyzerSamplesErrorsWhenAsked(t *testing.T) {
	a, err := New(Config{Files: []string{"x"}, SampleErrors: true}, fleettest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		a.Add(fmt.Sprintf("ERROR failed job %d", i))
	}
	got := a.Flush().GetTemplates()[0].GetSamples()
	if len(got) != MaxSamples || got[MaxSamples-1] != "ERROR failed job 4" {
		t.Fatalf("samples %q, want the last %d error lines", got, MaxSamples)
	}
}

func TestAnalyzerBoundsTemplates(t *testing.T) {
	a, err := New(Config{Files: []string{"x"}}, fleettest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	for i := range MaxReportTemplates + 50 {
		a.Add(fmt.Sprintf("word%c%c alpha beta gamma", 'a'+i%26, 'a'+i/26))
	}
	if n := len(a.Flush().GetTemplates()); n != MaxReportTemplates {
		t.Fatalf("%d templates reported, want at most %d", n, MaxReportTemplates)
	}
}

func TestConfigValidate(t *testing.T) {
	if err := (Config{Files: []string{""}, MaxTemplates: -1}).Validate(); err == nil {
		t.Fatal("an empty path and negative bound passed validation")
	}
}

func TestAnalyzerFollowsFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dspy.log")
	a, err := New(Config{Files: []string{path}, Poll: 10 * time.Millisecond}, fleettest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	// The follower starts at the file's end once it opened it, so each poll appends another line
	// until one is counted: first before, then after a rotation.
	n := 0
	waitFor := func(what, line string, counted func(*fleetv1.LogMetrics) bool) {
		fleettest.Eventually(t, 5*time.Second, what, func() bool {
			n++
			appendFile(t, path, fmt.Sprintf("%s %d\n", line, n))
			return counted(a.Flush())
		})
	}
	waitFor("a line of the new file", "INFO ok", func(m *fleetv1.LogMetrics) bool { return m.GetLines() > 0 })
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	waitFor("an error line after the rotation", "ERROR boom", func(m *fleetv1.LogMetrics) bool { return m.GetErrors() > 0 })
}
