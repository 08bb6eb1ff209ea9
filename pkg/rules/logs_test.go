package rules

import "testing"

// TestLogRule is the rule the log figures exist for: a new error template appearing at 50 or
// more lines a minute.
func TestLogRule(t *testing.T) {
	c := mustCompile(t, Rule{Name: "NewErrorTemplate", Condition: "node.logs.new_templates > 0 && node.logs.new_template_errors_per_min >= 50.0 && node.logs.error_rate > 0.01 && node.logs.anomaly >= 0.0"})
	for _, tt := range []struct {
		logs Logs
		want State
	}{
		{Logs{NewTemplates: 1, NewErrorsPerMin: 60, ErrorRate: 0.2}, StateFiring},
		{Logs{NewTemplates: 1, NewErrorsPerMin: 10, ErrorRate: 0.2}, ""},
		{Logs{NewTemplates: 0, ErrorsPerMin: 600, ErrorRate: 0.5}, ""},
	} {
		snap := fleetOf(10)
		snap.Nodes[0].Logs = tt.logs
		res := Evaluate(Input{Now: t0, Rules: []*Compiled{c}, Snapshot: snap})
		if got := res.Alerts["NewErrorTemplate|node/n1"].State; got != tt.want {
			t.Errorf("logs %+v: state %q, want %q", tt.logs, got, tt.want)
		}
	}
}

// TestSecurityRule reads node.security.
func TestSecurityRule(t *testing.T) {
	c := mustCompile(t, Rule{Name: "Intrusion", Condition: "node.security.ssh_failures >= 10 || node.security.new_listeners > 0 || node.security.file_changed > 0 || node.security.sudo_failures > 3"})
	for _, tt := range []struct {
		sec  Security
		want State
	}{
		{Security{SSHFailures: 12}, StateFiring},
		{Security{FileChanged: 1}, StateFiring},
		{Security{SSHFailures: 2, SudoFailures: 1}, ""},
	} {
		snap := fleetOf(10)
		snap.Nodes[0].Security = tt.sec
		res := Evaluate(Input{Now: t0, Rules: []*Compiled{c}, Snapshot: snap})
		if got := res.Alerts["Intrusion|node/n1"].State; got != tt.want {
			t.Errorf("security %+v: state %q, want %q", tt.sec, got, tt.want)
		}
	}
}
