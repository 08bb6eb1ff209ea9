package rules

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"time"

	"github.com/dspyfleet/dspyfleet/pkg/command"
)

// ErrInvalid marks every validation and compilation error of this package.
var ErrInvalid = errors.New("invalid rule")

// Scope is what one evaluation of a rule looks at.
type Scope string

// The scopes.
const (
	ScopeNode  Scope = "node"
	ScopePool  Scope = "pool"
	ScopeFleet Scope = "fleet"
)

// Severity ranks an alert.
type Severity string

// The severities.
const (
	SeverityInfo     Severity = "info"
	SeverityWarning  Severity = "warning"
	SeverityCritical Severity = "critical"
)

// ActionKind names a healing action; each is a pushed command the agent maps to an action
// configured on its own host.
type ActionKind string

// The healing actions.
const (
	ActionRestart ActionKind = "restart"
	ActionCleanup ActionKind = "cleanup"
	ActionDrain   ActionKind = "drain"
	ActionBackup  ActionKind = "backup"
	ActionScale   ActionKind = "scale"
)

// ActionKinds lists the healing actions.
func ActionKinds() []ActionKind {
	return []ActionKind{ActionRestart, ActionCleanup, ActionDrain, ActionBackup, ActionScale}
}

// Action is what a firing node rule makes the fleet do.
type Action struct {
	Kind ActionKind
	// Params are the command's parameters, validated by the command vocabulary.
	Params map[string]string
	// MinHealthy is the fewest ready nodes the pool must keep when this rule drains one
	// (0: the policy's default for the pool).
	MinHealthy int
	// Retry is how long after an attempt the action runs again while the alert keeps firing
	// (0: DefaultActionRetry).
	Retry time.Duration
}

// DefaultActionRetry is the retry interval of actions that set none.
const DefaultActionRetry = 5 * time.Minute

// Rule is one alert or healing rule.
type Rule struct {
	Name  string
	Scope Scope
	// Condition is a CEL expression that must be boolean.
	Condition string
	// For is how long the condition must hold before the alert fires.
	For time.Duration
	// Repeat is how often a firing alert is notified again (0: the evaluation's default).
	Repeat   time.Duration
	Severity Severity
	Labels   map[string]string
	// Annotations are text/template texts over the evaluated scope (.Node, .Pool, .Fleet,
	// .Params, .Labels).
	Annotations map[string]string
	// Notify names the notification channels; empty notifies none.
	Notify []string
	// Action is the healing action, for node rules; nil alerts only.
	Action *Action
	// Params are numbers the condition and annotations read as params.NAME, e.g. a latency
	// target.
	Params map[string]float64
	// Disabled rules are kept but not evaluated.
	Disabled bool
	// Urgent rules' healing actions run at once even outside the node's pool's maintenance
	// window; other rules' disruptive actions wait for the window to open.
	Urgent bool
}

// Limits of a rule's fields.
const (
	MaxConditionBytes  = 4096
	MaxAnnotationBytes = 4096
	MaxLabels          = 32
	MaxFor             = 7 * 24 * time.Hour
)

var (
	namePattern  = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.-]{0,62}$`)
	labelPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)
)

// ValidName reports whether s is a valid rule, channel or parameter name.
func ValidName(s string) bool { return namePattern.MatchString(s) }

// ValidLabelName reports whether s is a valid label name (Prometheus rules).
func ValidLabelName(s string) bool { return labelPattern.MatchString(s) }

// validateFields checks everything but the condition and templates, naming each bad field.
// channels lists the known notification channels.
func (r *Rule) validateFields(channels []string) error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...))
	}
	if !ValidName(r.Name) {
		bad("name %q must be 1-63 letters, digits, '_', '.' or '-', starting with a letter", truncate(r.Name))
	}
	switch r.Scope {
	case ScopeNode, ScopePool, ScopeFleet:
	default:
		bad("scope %q is not node, pool or fleet", truncate(string(r.Scope)))
	}
	switch r.Severity {
	case SeverityInfo, SeverityWarning, SeverityCritical:
	default:
		bad("severity %q is not info, warning or critical", truncate(string(r.Severity)))
	}
	if r.For < 0 || r.For > MaxFor {
		bad("for %s must be between 0 and %s", r.For, MaxFor)
	}
	if r.Repeat < 0 || r.Repeat > MaxFor {
		bad("repeat %s must be between 0 and %s", r.Repeat, MaxFor)
	}
	if len(r.Condition) == 0 {
		bad("condition is empty; write a CEL expression such as node.host.disk_max > 90")
	}
	if len(r.Condition) > MaxConditionBytes {
		bad("condition is %d bytes; at most %d", len(r.Condition), MaxConditionBytes)
	}
	if len(r.Labels) > MaxLabels || len(r.Annotations) > MaxLabels {
		bad("labels and annotations take at most %d entries each", MaxLabels)
	}
	for _, k := range slices.Sorted(maps.Keys(r.Labels)) {
		if !ValidLabelName(k) {
			bad("labels.%s: label names are 1-63 letters, digits or '_', not starting with a digit", truncate(k))
		}
		if len(r.Labels[k]) > 256 {
			bad("labels.%s: value is longer than 256 bytes", k)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(r.Annotations)) {
		if !ValidLabelName(k) {
			bad("annotations.%s: annotation names are 1-63 letters, digits or '_', not starting with a digit", truncate(k))
		}
		if len(r.Annotations[k]) > MaxAnnotationBytes {
			bad("annotations.%s: text is longer than %d bytes", k, MaxAnnotationBytes)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(r.Params)) {
		if !labelPattern.MatchString(k) {
			bad("params.%s: parameter names are 1-63 letters, digits or '_', not starting with a digit", truncate(k))
		}
	}
	for i, c := range r.Notify {
		if c != DefaultChannel && !slices.Contains(channels, c) {
			bad("notify[%d]: unknown channel %q (configured: %v)", i, truncate(c), channels)
		}
	}
	if a := r.Action; a != nil {
		if !slices.Contains(ActionKinds(), a.Kind) {
			bad("action.kind %q is not one of %v", truncate(string(a.Kind)), ActionKinds())
		}
		if r.Scope != ScopeNode {
			bad("action: only node rules can act; scope is %s", r.Scope)
		}
		if err := command.Validate(command.Kind(a.Kind), a.Params); err != nil && slices.Contains(ActionKinds(), a.Kind) {
			bad("action.%v", err)
		}
		if a.MinHealthy < 0 {
			bad("action.min_healthy %d must not be negative", a.MinHealthy)
		}
		if a.Retry < 0 || a.Retry > MaxFor {
			bad("action.retry %s must be between 0 and %s", a.Retry, MaxFor)
		}
	}
	if r.Urgent && r.Action == nil {
		bad("urgent: only a rule with an action is urgent (its action runs outside maintenance windows)")
	}
	return errors.Join(errs...)
}

func truncate(s string) string {
	if len(s) <= 64 {
		return s
	}
	return s[:64] + "…"
}
