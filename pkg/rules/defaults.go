package rules

import "time"

// LogChannel is the notification channel that is always configured: the control plane's log.
const LogChannel = "log"

// DefaultChannel names, in a rule's notify, the channels the control plane notifies by
// default: its default_notify setting, or every configured webhook and Alertmanager channel
// when that is unset. The shipped rules notify it, so a control plane given only
// --alertmanager-url sends their alerts there.
const DefaultChannel = "default"

// Defaults returns the rules a new control plane starts with; operators edit or delete them
// like any other.
func Defaults() []Rule {
	log := []string{LogChannel, DefaultChannel}
	return []Rule{
		{
			Name: "NodeDown", Scope: ScopeNode, Severity: SeverityCritical, Notify: log,
			Condition:   `node.state == "down"`,
			Annotations: map[string]string{"summary": "node {{.Node.ID}} in pool {{.Node.Pool}} stopped reporting"},
		},
		{
			Name: "DiskFull", Scope: ScopeNode, Severity: SeverityCritical, Notify: log, For: time.Minute,
			Condition:   `node.host.disk_max > 90.0`,
			Annotations: map[string]string{"summary": `a disk of node {{.Node.ID}} is {{printf "%.1f" .Node.Host.DiskMax}} % full`},
		},
		{
			Name: "DiskCleanup", Scope: ScopeNode, Severity: SeverityWarning, Notify: log,
			Condition:   `node.host.disk_max > 85.0`,
			Action:      &Action{Kind: ActionCleanup},
			Annotations: map[string]string{"summary": `a disk of node {{.Node.ID}} is {{printf "%.1f" .Node.Host.DiskMax}} % full; cleaning up`},
		},
		{
			Name: "ErrorRateHigh", Scope: ScopeNode, Severity: SeverityWarning, Notify: log, For: 5 * time.Minute,
			Condition:   `node.dspy.requests > 0 && node.dspy.error_rate > 0.05`,
			Annotations: map[string]string{"summary": `node {{.Node.ID}} fails {{printf "%.1f" (mul100 .Node.DSPy.ErrorRate)}} % of requests`},
		},
		{
			Name: "ErrorRateRestart", Scope: ScopeNode, Severity: SeverityCritical, Notify: log, For: 2 * time.Minute,
			Condition:   `node.dspy.requests > 0 && node.dspy.error_rate > 0.20`,
			Action:      &Action{Kind: ActionRestart},
			Annotations: map[string]string{"summary": `node {{.Node.ID}} fails {{printf "%.1f" (mul100 .Node.DSPy.ErrorRate)}} % of requests; restarting`},
		},
		{
			Name: "LatencyAboveTarget", Scope: ScopeNode, Severity: SeverityWarning, Notify: log, For: 5 * time.Minute,
			Condition:   `node.dspy.requests > 0 && node.dspy.p95_ms > params.target_p95_ms`,
			Params:      map[string]float64{"target_p95_ms": 2000},
			Annotations: map[string]string{"summary": `p95 latency of node {{.Node.ID}} is {{printf "%.0f" .Node.DSPy.P95Ms}} ms, above the {{.Params.target_p95_ms}} ms target`},
		},
		{
			Name: "MemoryHigh", Scope: ScopeNode, Severity: SeverityCritical, Notify: log, For: 2 * time.Minute,
			Condition:   `node.host.memory > 95.0`,
			Annotations: map[string]string{"summary": `node {{.Node.ID}} uses {{printf "%.1f" .Node.Host.Memory}} % of its memory`},
		},
		{
			Name: "BudgetHigh", Scope: ScopeFleet, Severity: SeverityWarning, Notify: log,
			Condition:   `fleet.budget_used >= params.share`,
			Params:      map[string]float64{"share": 0.8},
			Annotations: map[string]string{"summary": `a budget is {{printf "%.0f" (mul100 .Fleet.BudgetUsed)}} % spent this period (fleetctl cost budgets)`},
		},
		{
			Name: "BudgetForecastOver", Scope: ScopeFleet, Severity: SeverityWarning, Notify: log,
			Condition:   `fleet.budget_forecast > 1.0`,
			Annotations: map[string]string{"summary": `at the current run rate a budget ends its period at {{printf "%.0f" (mul100 .Fleet.BudgetForecast)}} % (fleetctl cost budgets)`},
		},
	}
}
