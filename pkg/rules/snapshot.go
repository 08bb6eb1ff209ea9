package rules

// Snapshot is what conditions read: every node, every pool's aggregates and the fleet's, at
// one moment. Budget and cost figures belong on Pool and Fleet (one struct field each) once the
// cost model supplies them.
type Snapshot struct {
	Nodes []Node
	Pools []Pool
	Fleet Fleet
}

// Host holds a node's host figures from its last report. CEL: node.host.
type Host struct {
	// CPU is the busy share, 0-100.
	CPU float64 `cel:"cpu"`
	// Memory is the used share, 0-100.
	Memory float64 `cel:"memory"`
	// Disk is the used share, 0-100, per mount point, e.g. node.host.disk["/"].
	Disk map[string]float64 `cel:"disk"`
	// DiskMax is the highest used share of any mount point.
	DiskMax float64 `cel:"disk_max"`
	// Load1 is the one-minute load average.
	Load1 float64 `cel:"load1"`
}

// DSPy holds request figures over the rules' evaluation window. CEL: node.dspy, pool.dspy,
// fleet.dspy.
type DSPy struct {
	Requests     int64   `cel:"requests"`
	Errors       int64   `cel:"errors"`
	ErrorRate    float64 `cel:"error_rate"` // 0-1
	RPS          float64 `cel:"rps"`
	P50Ms        float64 `cel:"p50_ms"`
	P95Ms        float64 `cel:"p95_ms"`
	P99Ms        float64 `cel:"p99_ms"`
	TTFTMs       float64 `cel:"ttft_ms"` // time to first token, 95th percentile
	InputTokens  int64   `cel:"input_tokens"`
	OutputTokens int64   `cel:"output_tokens"`
	CacheHit     float64 `cel:"cache_hit_ratio"` // 0-1
	InFlight     int64   `cel:"in_flight"`
	QueueLength  int64   `cel:"queue_length"`
}

// Node is one node as conditions see it. CEL: node.
type Node struct {
	ID     string            `cel:"id"`
	Pool   string            `cel:"pool"`
	State  string            `cel:"state"` // ready, draining, drained, disconnected, down, unhealthy
	Labels map[string]string `cel:"labels"`
	// Up is true while the agent has a live session.
	Up bool `cel:"up"`
	// ReportAgeSeconds is the time since the last report (0 when none arrived yet).
	ReportAgeSeconds float64 `cel:"report_age_s"`
	Host             Host    `cel:"host"`
	DSPy             DSPy    `cel:"dspy"`
	// Logs are the node's log figures from its last report; zero when it follows no logs.
	Logs Logs `cel:"logs"`
	// Security counts the node's security events of the last few minutes (the agent's
	// security.window, 5 min by default), from its last report.
	Security Security `cel:"security"`
}

// Security counts a node's recent security events. CEL: node.security.
type Security struct {
	SSHFailures  int64 `cel:"ssh_failures"`
	SudoFailures int64 `cel:"sudo_failures"`
	NewListeners int64 `cel:"new_listeners"`
	FileChanged  int64 `cel:"file_changed"`
}

// Logs holds a node's log figures from its last report window. CEL: node.logs.
type Logs struct {
	Lines  int64 `cel:"lines"`
	Errors int64 `cel:"errors"`
	// ErrorRate is the share of lines at error level, 0-1 (log_error_rate).
	ErrorRate    float64 `cel:"error_rate"`
	ErrorsPerMin float64 `cel:"errors_per_min"`
	// NewTemplates counts templates first seen within the last ten minutes.
	NewTemplates int64 `cel:"new_templates"`
	// NewErrorsPerMin is the error lines per minute of those new templates.
	NewErrorsPerMin float64 `cel:"new_template_errors_per_min"`
	// Anomaly is the highest score of any template: standard deviations above its baseline.
	Anomaly float64 `cel:"anomaly"`
}

// Pool aggregates one pool. CEL: pool.
type Pool struct {
	Name string `cel:"name"`
	// Nodes counts every known node of the pool; Healthy the ready ones; Down the down or
	// disconnected ones.
	Nodes   int64 `cel:"nodes"`
	Healthy int64 `cel:"healthy"`
	Down    int64 `cel:"down"`
	// CPU and Memory are the mean shares over reporting nodes, 0-100.
	CPU    float64 `cel:"cpu"`
	Memory float64 `cel:"memory"`
	DSPy   DSPy    `cel:"dspy"`
	// BudgetUsed is the largest share spent this period of a budget covering the pool (1 =
	// 100 %); BudgetForecast the largest share projected at the period's end. 0 without budgets.
	BudgetUsed     float64 `cel:"budget_used"`
	BudgetForecast float64 `cel:"budget_forecast"`
}

// Fleet aggregates every pool. CEL: fleet.
type Fleet struct {
	Nodes   int64 `cel:"nodes"`
	Healthy int64 `cel:"healthy"`
	Down    int64 `cel:"down"`
	DSPy    DSPy  `cel:"dspy"`
	// BudgetUsed and BudgetForecast are the largest over every budget: fleet, pool or program.
	BudgetUsed     float64 `cel:"budget_used"`
	BudgetForecast float64 `cel:"budget_forecast"`
}

// pool returns the named pool's aggregates, or an empty pool of that name.
func (s *Snapshot) pool(name string) Pool {
	for _, p := range s.Pools {
		if p.Name == name {
			return p
		}
	}
	return Pool{Name: name}
}
