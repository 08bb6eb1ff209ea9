package scaling

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// ErrInvalid marks every validation error of this package.
var ErrInvalid = errors.New("invalid scaling policy")

// MaxNodes bounds a pool's size.
const MaxNodes = 100_000

// Metric names a signal a pool can scale on.
type Metric string

// The metrics. Per-node metrics are averaged over a pool's ready nodes; the others are pool-wide.
const (
	MetricCPU        Metric = "cpu_percent"
	MetricMemory     Metric = "memory_percent"
	MetricLatencyP95 Metric = "latency_p95_ms"
	MetricTTFT       Metric = "ttft_p95_ms"
	MetricErrorRate  Metric = "error_rate"
	MetricInFlight   Metric = "in_flight_per_node"
	MetricRPS        Metric = "requests_per_second_per_node"
	MetricTokens     Metric = "tokens_per_second_per_node"
	MetricQueue      Metric = "queue_length_per_node"
)

var allMetrics = []Metric{
	MetricCPU, MetricMemory, MetricLatencyP95, MetricTTFT, MetricErrorRate,
	MetricInFlight, MetricRPS, MetricTokens, MetricQueue,
}

// Metrics returns every metric, in a stable order.
func Metrics() []Metric { return slices.Clone(allMetrics) }

// PerNode reports whether m is averaged per ready node, so that load on the pool is m × ready.
func (m Metric) PerNode() bool {
	switch m {
	case MetricCPU, MetricMemory, MetricInFlight, MetricRPS, MetricTokens, MetricQueue:
		return true
	}
	return false
}

func (m Metric) valid() bool { return slices.Contains(allMetrics, m) }

// Target asks the reactive scaler to keep Metric near Value.
type Target struct {
	Metric Metric
	Value  float64
}

// Comparison is how a rule compares its metric with its threshold.
type Comparison string

// The comparisons.
const (
	Above        Comparison = ">"
	AboveOrEqual Comparison = ">="
	Below        Comparison = "<"
	BelowOrEqual Comparison = "<="
)

func (c Comparison) holds(v, threshold float64) (bool, bool) {
	switch c {
	case Above:
		return v > threshold, true
	case AboveOrEqual:
		return v >= threshold, true
	case Below:
		return v < threshold, true
	case BelowOrEqual:
		return v <= threshold, true
	}
	return false, false
}

// Direction is what a rule does when it fires.
type Direction string

// The directions.
const (
	ScaleUp   Direction = "scale_up"
	ScaleDown Direction = "scale_down"
)

// Unit says whether an amount counts nodes or a percentage of the current size.
type Unit string

// The units.
const (
	Nodes   Unit = "nodes"
	Percent Unit = "percent"
)

// Rule is a custom trigger: when Metric compares to Threshold for at least For, the pool grows or
// shrinks by Amount (nodes, or percent of the current size, at least one node), then the rule
// waits Cooldown before it fires again.
type Rule struct {
	Name       string
	Metric     Metric
	Comparison Comparison
	Threshold  float64
	For        time.Duration
	Action     Direction
	Amount     int
	Unit       Unit
	Cooldown   time.Duration
}

// step is the change the rule asks for from current nodes, at least one node.
func (r Rule) step(current int) int {
	if r.Unit == Percent {
		return max(1, int(math.Ceil(float64(current)*float64(r.Amount)/100)))
	}
	return r.Amount
}

// Select chooses among rate policies.
type Select string

// The selections.
const (
	// MaxChange applies the policy that allows the largest change (the default).
	MaxChange Select = "max_change"
	// MinChange applies the policy that allows the smallest change.
	MinChange Select = "min_change"
)

// RatePolicy caps the change within any Period: Value nodes, or Value percent of the size at the
// start of the period.
type RatePolicy struct {
	Unit   Unit
	Value  int
	Period time.Duration
}

func (rp RatePolicy) String() string {
	if rp.Unit == Percent {
		return fmt.Sprintf("%d%% per %s", rp.Value, rp.Period)
	}
	return fmt.Sprintf("%d nodes per %s", rp.Value, rp.Period)
}

// Behavior shapes changes in one direction.
type Behavior struct {
	// StabilizationWindow: scaling down takes the highest recommendation within the window,
	// scaling up the lowest, so a brief swing does not move the pool.
	StabilizationWindow time.Duration
	// Policies cap the change per period; none means no cap.
	Policies []RatePolicy
	// Select chooses among Policies; empty means MaxChange.
	Select Select
	// Cooldown is the least time after any scaling action before an action in this direction.
	Cooldown time.Duration
}

// VictimOrder is one preference in the choice of nodes to remove.
type VictimOrder string

// The victim preferences, applied in the order the policy lists them.
const (
	MostExpensive VictimOrder = "most_expensive"
	LeastLoaded   VictimOrder = "least_loaded"
	Newest        VictimOrder = "newest"
	SpotLast      VictimOrder = "spot_last"
)

var allVictimOrders = []VictimOrder{MostExpensive, LeastLoaded, Newest, SpotLast}

// Predictive configures the forecast that raises the floor ahead of load.
type Predictive struct {
	Enabled bool
	// Metric is the per-node capacity target the forecast is divided by: MetricRPS or
	// MetricTokens, which the policy must also target.
	Metric Metric
	// Horizon is how far ahead the forecast reaches.
	Horizon time.Duration
	// LeadTime is how long a new node takes to serve; capacity is requested this much ahead.
	LeadTime time.Duration
	// MinHistory is the history needed before the forecast is used (at least two days, so the
	// daily season has been seen twice).
	MinHistory time.Duration
}

// Policy is one pool's scaling policy.
type Policy struct {
	Min int
	Max int
	// Targets are kept near their values by the reactive formula; the largest proposal wins.
	Targets []Target
	// Tolerance is the relative distance from a target inside which nothing changes.
	Tolerance float64
	Rules     []Rule
	ScaleUp   Behavior
	ScaleDown Behavior
	// WakeSize is the size an empty pool (Min 0) wakes to when a request finds no node.
	WakeSize int
	// Victims orders the choice of nodes to remove; not-ready nodes always go first.
	Victims    []VictimOrder
	Predictive Predictive
	// Capacity is the pool's mix of on-demand and spot nodes.
	Capacity Capacity
}

// Default values of a Policy.
const (
	DefaultTolerance        = 0.1
	DefaultDownWindow       = 300 * time.Second
	DefaultHorizon          = 60 * time.Minute
	DefaultLeadTime         = 5 * time.Minute
	DefaultMinHistory       = 48 * time.Hour
	DefaultRuleCooldown     = 5 * time.Minute
	minPredictiveHistory    = 48 * time.Hour
	maxDuration             = 30 * 24 * time.Hour
	maxRules                = 64
	maxRuleName             = 63
	defaultUpPercent        = 100
	defaultUpNodes          = 4
	defaultUpPeriod         = 15 * time.Second
	defaultDownNodes        = 1
	defaultDownPeriod       = 60 * time.Second
	defaultPredictiveMetric = MetricRPS
)

// DefaultPolicy returns the documented defaults for a pool of min to max nodes: 10 % tolerance;
// scale up at once by up to +100 % or +4 nodes per 15 s, whichever is more; scale down after a
// 300 s stabilization window by at most one node per 60 s; wake size 1; victims most expensive,
// then least loaded, then newest; predictive off with a 60 min horizon and 5 min lead time.
func DefaultPolicy(minNodes, maxNodes int) Policy {
	return Policy{
		Min: minNodes, Max: maxNodes, Tolerance: DefaultTolerance,
		ScaleUp: Behavior{Select: MaxChange, Policies: []RatePolicy{
			{Unit: Percent, Value: defaultUpPercent, Period: defaultUpPeriod},
			{Unit: Nodes, Value: defaultUpNodes, Period: defaultUpPeriod},
		}},
		ScaleDown: Behavior{StabilizationWindow: DefaultDownWindow, Select: MaxChange, Policies: []RatePolicy{
			{Unit: Nodes, Value: defaultDownNodes, Period: defaultDownPeriod},
		}},
		WakeSize: 1,
		Victims:  []VictimOrder{MostExpensive, LeastLoaded, Newest},
		Predictive: Predictive{
			Metric: defaultPredictiveMetric, Horizon: DefaultHorizon, LeadTime: DefaultLeadTime, MinHistory: DefaultMinHistory,
		},
		Capacity: Capacity{SpotRetry: DefaultSpotRetry},
	}
}

// FieldError is a validation error naming the field at fault, in the policy file's spelling.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// Unwrap makes every FieldError match ErrInvalid.
func (e *FieldError) Unwrap() error { return ErrInvalid }

// Validate reports every invalid field of p, each error a *FieldError.
func (p Policy) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)})
	}
	switch {
	case p.Min < 0:
		bad("min", "%d must not be negative", p.Min)
	case p.Max < 1 || p.Max > MaxNodes:
		bad("max", "%d must be between 1 and %d", p.Max, MaxNodes)
	case p.Min > p.Max:
		bad("min", "%d is greater than max %d", p.Min, p.Max)
	}
	p.Capacity.validate(p.Max, bad)
	if !finite(p.Tolerance) || p.Tolerance < 0 || p.Tolerance >= 1 {
		bad("tolerance", "%v must be at least 0 and below 1 (0.1 means 10 %%)", p.Tolerance)
	}
	seen := map[Metric]bool{}
	for i, t := range p.Targets {
		f := fmt.Sprintf("targets[%d]", i)
		switch {
		case !t.Metric.valid():
			bad(f+".metric", "%q is not a metric; use one of %v", truncate(string(t.Metric)), allMetrics)
		case seen[t.Metric]:
			bad(f+".metric", "%s is targeted twice", t.Metric)
		}
		seen[t.Metric] = true
		if !finite(t.Value) || t.Value <= 0 {
			bad(f+".value", "%v must be a positive number", t.Value)
		} else if (t.Metric == MetricCPU || t.Metric == MetricMemory) && t.Value > 100 {
			bad(f+".value", "%v must be at most 100 (percent)", t.Value)
		} else if t.Metric == MetricErrorRate && t.Value > 1 {
			bad(f+".value", "%v must be at most 1 (a fraction of requests)", t.Value)
		}
	}
	if len(p.Rules) > maxRules {
		bad("rules", "%d rules; at most %d", len(p.Rules), maxRules)
	}
	names := map[string]bool{}
	for i, r := range p.Rules {
		f := fmt.Sprintf("rules[%d]", i)
		switch {
		case !validName(r.Name):
			bad(f+".name", "%q must be 1-%d letters, digits, '.', '_' or '-'", truncate(r.Name), maxRuleName)
		case names[r.Name]:
			bad(f+".name", "%q is used by another rule", r.Name)
		}
		names[r.Name] = true
		if !r.Metric.valid() {
			bad(f+".metric", "%q is not a metric; use one of %v", truncate(string(r.Metric)), allMetrics)
		}
		if _, ok := r.Comparison.holds(0, 0); !ok {
			bad(f+".comparison", "%q must be one of >, >=, <, <=", truncate(string(r.Comparison)))
		}
		if !finite(r.Threshold) || r.Threshold < 0 {
			bad(f+".threshold", "%v must be a number at least 0", r.Threshold)
		}
		checkDuration(bad, f+".for", r.For)
		checkDuration(bad, f+".cooldown", r.Cooldown)
		if r.Action != ScaleUp && r.Action != ScaleDown {
			bad(f+".action", "%q must be scale_up or scale_down", truncate(string(r.Action)))
		}
		checkAmount(bad, f, "amount", r.Unit, r.Amount)
	}
	checkBehavior(bad, "scale_up", p.ScaleUp)
	checkBehavior(bad, "scale_down", p.ScaleDown)
	if p.WakeSize < 0 || p.WakeSize > p.Max || (p.Min == 0 && p.WakeSize == 0) {
		bad("wake_size", "%d must be between 1 and max %d when min is 0, and never above max", p.WakeSize, p.Max)
	}
	vs := map[VictimOrder]bool{}
	for i, v := range p.Victims {
		f := fmt.Sprintf("victims[%d]", i)
		switch {
		case !slices.Contains(allVictimOrders, v):
			bad(f, "%q must be one of %v", truncate(string(v)), allVictimOrders)
		case vs[v]:
			bad(f, "%s is listed twice", v)
		}
		vs[v] = true
	}
	pr := p.Predictive
	checkDuration(bad, "predictive.horizon", pr.Horizon)
	checkDuration(bad, "predictive.lead_time", pr.LeadTime)
	checkDuration(bad, "predictive.min_history", pr.MinHistory)
	if pr.Enabled {
		switch {
		case pr.Metric != MetricRPS && pr.Metric != MetricTokens:
			bad("predictive.metric", "%q must be %s or %s", truncate(string(pr.Metric)), MetricRPS, MetricTokens)
		case !seen[pr.Metric]:
			bad("predictive.metric", "%s needs a target of that metric, the load one node carries", pr.Metric)
		}
		if pr.Horizon < time.Minute || pr.LeadTime >= pr.Horizon {
			bad("predictive.horizon", "%s must be at least 1m and longer than lead_time %s", pr.Horizon, pr.LeadTime)
		}
		if pr.MinHistory < minPredictiveHistory {
			bad("predictive.min_history", "%s must be at least %s: the daily season must be seen twice", pr.MinHistory, minPredictiveHistory)
		}
	}
	return errors.Join(errs...)
}

func checkBehavior(bad func(string, string, ...any), f string, b Behavior) {
	checkDuration(bad, f+".stabilization_window", b.StabilizationWindow)
	checkDuration(bad, f+".cooldown", b.Cooldown)
	if b.Select != "" && b.Select != MaxChange && b.Select != MinChange {
		bad(f+".select", "%q must be max_change or min_change", truncate(string(b.Select)))
	}
	for i, rp := range b.Policies {
		pf := fmt.Sprintf("%s.policies[%d]", f, i)
		checkAmount(bad, pf, "value", rp.Unit, rp.Value)
		if rp.Period <= 0 || rp.Period > maxDuration {
			bad(pf+".period", "%s must be positive and at most %s", rp.Period, maxDuration)
		}
	}
}

func checkAmount(bad func(string, string, ...any), f, name string, u Unit, v int) {
	switch u {
	case Nodes:
		if v < 1 || v > MaxNodes {
			bad(f+"."+name, "%d nodes must be between 1 and %d", v, MaxNodes)
		}
	case Percent:
		if v < 1 || v > 1000 {
			bad(f+"."+name, "%d percent must be between 1 and 1000", v)
		}
	default:
		bad(f+".unit", "%q must be nodes or percent", truncate(string(u)))
	}
}

func checkDuration(bad func(string, string, ...any), f string, d time.Duration) {
	if d < 0 || d > maxDuration {
		bad(f, "%s must not be negative and at most %s", d, maxDuration)
	}
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

func validName(s string) bool {
	if len(s) == 0 || len(s) > maxRuleName {
		return false
	}
	for _, c := range s {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
		if !ok {
			return false
		}
	}
	return true
}

func truncate(s string) string {
	if len(s) <= 64 {
		return s
	}
	return s[:64] + "…"
}
