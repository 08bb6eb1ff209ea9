package api

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/dspyfleet/dspyfleet/controlplane/check"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// Bounds of a report's log section (the agent sends at most these).
const (
	maxLogTemplates     = 100
	maxLogTemplateBytes = 512
	maxLogSamples       = 3
)

// logTemplateID is a template id: 16 hex digits from the agent's miner, or its overflow id.
var logTemplateID = regexp.MustCompile(`^([0-9a-f]{16}|overflow)$`)

// validateLogs checks a report's log section: counts that add up, bounded templates of valid
// text, and ids of the miner's form.
func validateLogs(v *check.Violations, l *fleetv1.LogMetrics) {
	if l == nil {
		return
	}
	if l.GetErrors()+l.GetWarnings() > l.GetLines() {
		v.Add("logs.errors", "errors and warnings exceed logs.lines")
	}
	if len(l.GetTemplates()) > maxLogTemplates {
		v.Add("logs.templates", "has %d entries, at most %d are allowed", len(l.GetTemplates()), maxLogTemplates)
		return
	}
	seen := make(map[string]bool, len(l.GetTemplates()))
	var lines uint64
	for i, t := range l.GetTemplates() {
		f := fmt.Sprintf("logs.templates[%d]", i)
		if !logTemplateID.MatchString(t.GetId()) {
			v.Add(f+".id", "%q must be 16 lower-case hex digits or overflow", check.Truncate(t.GetId()))
		} else if seen[t.GetId()] {
			v.Add(f+".id", "%s appears twice", t.GetId())
		}
		seen[t.GetId()] = true
		if !logText(t.GetTemplate()) {
			v.Add(f+".template", "must be valid UTF-8 without control characters, at most %d bytes", maxLogTemplateBytes)
		}
		if t.GetErrors()+t.GetWarnings() > t.GetLines() {
			v.Add(f+".errors", "errors and warnings exceed lines")
		}
		if len(t.GetSamples()) > maxLogSamples {
			v.Add(f+".samples", "has %d entries, at most %d are allowed", len(t.GetSamples()), maxLogSamples)
		}
		for j, s := range t.GetSamples() {
			if len(s) > maxLogTemplateBytes || !utf8.ValidString(s) {
				v.Add(fmt.Sprintf("%s.samples[%d]", f, j), "must be valid UTF-8, at most %d bytes", maxLogTemplateBytes)
			}
		}
		lines += t.GetLines()
	}
	if lines > l.GetLines() {
		v.Add("logs.templates", "hold %d lines, more than logs.lines %d", lines, l.GetLines())
	}
}

// logText reports whether a template text is short valid UTF-8 without control characters.
func logText(s string) bool {
	return len(s) <= maxLogTemplateBytes && utf8.ValidString(s) && !strings.ContainsFunc(s, isControl)
}

// maxSecurityListed bounds the listeners and files a report's security section names.
const maxSecurityListed = 20

// validateSecurity checks a report's security section: bounded lists of printable entries no
// longer than their counts.
func validateSecurity(v *check.Violations, s *fleetv1.SecurityMetrics) {
	if s == nil {
		return
	}
	for field, l := range map[string][]string{"security.listeners": s.GetListeners(), "security.changed_files": s.GetChangedFiles()} {
		if len(l) > maxSecurityListed {
			v.Add(field, "has %d entries, at most %d are allowed", len(l), maxSecurityListed)
			continue
		}
		for i, e := range l {
			if len(e) > check.MaxStringLen || !utf8.ValidString(e) || strings.ContainsFunc(e, isControl) {
				v.Add(fmt.Sprintf("%s[%d]", field, i), "must be valid UTF-8 without control characters, at most %d bytes", check.MaxStringLen)
			}
		}
	}
	if uint32(len(s.GetListeners())) > s.GetNewListeners() {
		v.Add("security.listeners", "names more listeners than security.new_listeners")
	}
	if uint32(len(s.GetChangedFiles())) > s.GetFileChanged() {
		v.Add("security.changed_files", "names more files than security.file_changed")
	}
}
