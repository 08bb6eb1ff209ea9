package api

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/dspyfleet/dspyfleet/controlplane/check"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

func goodLogs() *fleetv1.LogMetrics {
	return &fleetv1.LogMetrics{Lines: 10, Errors: 2, Warnings: 1, NewTemplates: 1, TemplatesTotal: 4, Templates: []*fleetv1.LogTemplateCount{
		{Id: "0123456789abcdef", Template: "ERROR timeout calling <*>", Lines: 2, Errors: 2, New: true, Samples: []string{"ERROR timeout calling gpt-4o"}},
		{Id: "overflow", Template: "<*>", Lines: 3},
	}}
}

func TestValidateLogs(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(*fleetv1.LogMetrics)
		field string // "" means valid
	}{
		{"good", func(*fleetv1.LogMetrics) {}, ""},
		{"errors exceed lines", func(l *fleetv1.LogMetrics) { l.Errors = 11 }, "logs.errors"},
		{"bad id", func(l *fleetv1.LogMetrics) { l.Templates[0].Id = "../x" }, "logs.templates[0].id"},
		{"duplicate id", func(l *fleetv1.LogMetrics) { l.Templates[1].Id = l.Templates[0].Id }, "logs.templates[1].id"},
		{"control character", func(l *fleetv1.LogMetrics) { l.Templates[0].Template = "a\x1b[31m" }, "logs.templates[0].template"},
		{"long template", func(l *fleetv1.LogMetrics) { l.Templates[0].Template = strings.Repeat("a", 513) }, "logs.templates[0].template"},
		{"template errors exceed lines", func(l *fleetv1.LogMetrics) { l.Templates[1].Errors = 4 }, "logs.templates[1].errors"},
		{"too many samples", func(l *fleetv1.LogMetrics) { l.Templates[0].Samples = []string{"a", "b", "c", "d"} }, "logs.templates[0].samples"},
		{"bad sample", func(l *fleetv1.LogMetrics) { l.Templates[0].Samples = []string{"\xff"} }, "logs.templates[0].samples[0]"},
		{"templates exceed lines", func(l *fleetv1.LogMetrics) { l.Templates[1].Lines = 9 }, "logs.templates"},
		{"too many templates", func(l *fleetv1.LogMetrics) {
			l.Templates = make([]*fleetv1.LogTemplateCount, maxLogTemplates+1)
		}, "logs.templates"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := goodLogs()
			tt.edit(l)
			var v check.Violations
			validateLogs(&v, l)
			switch {
			case tt.field == "" && len(v) > 0:
				t.Fatalf("valid logs refused: %s", v)
			case tt.field != "" && (len(v) != 1 || v[0].GetField() != tt.field):
				t.Fatalf("violations %s, want one on %s", v, tt.field)
			}
		})
	}
}

// FuzzValidateLogs checks that the log section validator never panics and that accepted
// sections hold bounded, printable templates.
func FuzzValidateLogs(f *testing.F) {
	seed, _ := proto.Marshal(goodLogs())
	f.Add(seed)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		l := &fleetv1.LogMetrics{}
		if proto.Unmarshal(data, l) != nil {
			return
		}
		var v check.Violations
		validateLogs(&v, l)
		if len(v) > 0 {
			return
		}
		if len(l.GetTemplates()) > maxLogTemplates {
			t.Fatalf("accepted %d templates", len(l.GetTemplates()))
		}
		for _, tm := range l.GetTemplates() {
			if !logText(tm.GetTemplate()) || !logTemplateID.MatchString(tm.GetId()) {
				t.Fatalf("accepted template %q (%q)", tm.GetTemplate(), tm.GetId())
			}
		}
	})
}

func TestValidateSecurity(t *testing.T) {
	tests := []struct {
		name  string
		s     *fleetv1.SecurityMetrics
		field string
	}{
		{"good", &fleetv1.SecurityMetrics{SshFailures: 3, NewListeners: 1, Listeners: []string{"tcp 0.0.0.0:4444"}, FileChanged: 1, ChangedFiles: []string{"/etc/app.yaml"}}, ""},
		{"more names than count", &fleetv1.SecurityMetrics{Listeners: []string{"tcp 0.0.0.0:4444"}}, "security.listeners"},
		{"control character", &fleetv1.SecurityMetrics{FileChanged: 1, ChangedFiles: []string{"/etc/\x1b[2J"}}, "security.changed_files[0]"},
		{"too many", &fleetv1.SecurityMetrics{FileChanged: 100, ChangedFiles: make([]string, maxSecurityListed+1)}, "security.changed_files"},
	}
	for _, tt := range tests {
		var v check.Violations
		validateSecurity(&v, tt.s)
		switch {
		case tt.field == "" && len(v) > 0:
			t.Errorf("%s: refused: %s", tt.name, v)
		case tt.field != "" && (len(v) != 1 || v[0].GetField() != tt.field):
			t.Errorf("%s: violations %s, want one on %s", tt.name, v, tt.field)
		}
	}
}
