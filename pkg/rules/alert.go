package rules

import (
	"maps"
	"slices"
	"time"
)

// State is where an alert stands.
type State string

// The alert states. An inactive alert is not kept: it has no entry.
const (
	StateInactive State = "inactive"
	StatePending  State = "pending"
	StateFiring   State = "firing"
	StateResolved State = "resolved"
)

// EscalationRule names the alert raised when healing escalates.
const EscalationRule = "HealingEscalated"

// Alert is the state of one rule on one target, passed to Evaluate and returned by it; the
// caller persists it.
type Alert struct {
	Rule     string
	Target   string // "node/<id>", "pool/<name>" or "fleet"
	Node     string
	Pool     string
	State    State
	Severity Severity
	// Labels are the rule's labels plus alertname, severity and the target's node and pool.
	Labels      map[string]string
	Annotations map[string]string
	// ActiveSince is when the condition started to hold; FiredAt when the alert fired;
	// ResolvedAt when it resolved.
	ActiveSince time.Time
	FiredAt     time.Time
	ResolvedAt  time.Time
	// LastNotified is when a notification last went out (zero while silenced).
	LastNotified time.Time
	// LastSuppressed is when a silence last held back a notification; one is reported per
	// repeat interval.
	LastSuppressed time.Time
	// LastAction is when healing was last considered for this alert.
	LastAction time.Time
	// Escalated is set once healing gave up and drained the node; no more actions until the
	// alert resolves.
	Escalated bool
	// Source is the rule an escalation alert stands for.
	Source string
	// Channels are the rule's notification channels, kept so an alert whose rule was deleted
	// still notifies its resolution.
	Channels []string
}

// Key identifies an alert: rule and target.
func (a Alert) Key() string { return AlertKey(a.Rule, a.Target) }

// AlertKey identifies the alert of rule on target.
func AlertKey(rule, target string) string { return rule + "|" + target }

func (a Alert) clone() Alert {
	a.Labels = maps.Clone(a.Labels)
	a.Annotations = maps.Clone(a.Annotations)
	a.Channels = slices.Clone(a.Channels)
	return a
}

// NotificationKind says why a notification goes out.
type NotificationKind string

// The notification kinds.
const (
	NotifyFiring   NotificationKind = "firing"
	NotifyRepeat   NotificationKind = "repeat"
	NotifyResolved NotificationKind = "resolved"
)

// Notification is one alert to deliver to its channels.
type Notification struct {
	Kind     NotificationKind
	Alert    Alert
	Channels []string
	// SilencedBy is the id of the silence that suppresses it; such notifications are not
	// delivered.
	SilencedBy string
}
