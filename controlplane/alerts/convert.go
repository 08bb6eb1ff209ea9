package alerts

import (
	"maps"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dspyfleet/dspyfleet/internal/wire"
	"github.com/dspyfleet/dspyfleet/pkg/rules"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// enumWord is an enum value's short lower-case name: RULE_SCOPE_NODE → node.
func enumWord(name, prefix string) string {
	return strings.ToLower(strings.TrimPrefix(name, prefix))
}

// ruleFromProto converts an API rule; the result is validated by rules.Compile.
func ruleFromProto(p *fleetv1.AlertRule) rules.Rule {
	r := rules.Rule{
		Name:        p.GetName(),
		Scope:       rules.Scope(enumWord(p.GetScope().String(), "RULE_SCOPE_")),
		Condition:   p.GetCondition(),
		For:         p.GetFor().AsDuration(),
		Repeat:      p.GetRepeatInterval().AsDuration(),
		Severity:    rules.Severity(enumWord(p.GetSeverity().String(), "ALERT_SEVERITY_")),
		Labels:      maps.Clone(p.GetLabels()),
		Annotations: maps.Clone(p.GetAnnotations()),
		Notify:      append([]string(nil), p.GetNotify()...),
		Params:      maps.Clone(p.GetParams()),
		Disabled:    p.GetDisabled(),
		Urgent:      p.GetUrgent(),
	}
	if a := p.GetAction(); a != nil {
		r.Action = &rules.Action{Kind: rules.ActionKind(wire.CommandKind(a.GetKind())), Params: maps.Clone(a.GetParams()), MinHealthy: int(a.GetMinHealthy()),
			Retry: a.GetRetryInterval().AsDuration()}
	}
	return r
}

// ruleToProto converts a rule for the API and the store.
func ruleToProto(r rules.Rule) *fleetv1.AlertRule {
	p := &fleetv1.AlertRule{
		Name:        r.Name,
		Scope:       fleetv1.RuleScope(fleetv1.RuleScope_value["RULE_SCOPE_"+strings.ToUpper(string(r.Scope))]),
		Condition:   r.Condition,
		Severity:    fleetv1.AlertSeverity(fleetv1.AlertSeverity_value["ALERT_SEVERITY_"+strings.ToUpper(string(r.Severity))]),
		Labels:      maps.Clone(r.Labels),
		Annotations: maps.Clone(r.Annotations),
		Notify:      append([]string(nil), r.Notify...),
		Params:      maps.Clone(r.Params),
		Disabled:    r.Disabled,
		Urgent:      r.Urgent,
	}
	if r.For > 0 {
		p.For = durationpb.New(r.For)
	}
	if r.Repeat > 0 {
		p.RepeatInterval = durationpb.New(r.Repeat)
	}
	if a := r.Action; a != nil {
		p.Action = &fleetv1.HealingAction{Kind: commandKind(a.Kind), Params: maps.Clone(a.Params), MinHealthy: uint32(max(a.MinHealthy, 0))}
		if a.Retry > 0 {
			p.Action.RetryInterval = durationpb.New(a.Retry)
		}
	}
	return p
}

// commandKind maps a healing action to its command kind.
func commandKind(k rules.ActionKind) fleetv1.CommandKind {
	return fleetv1.CommandKind(fleetv1.CommandKind_value["COMMAND_KIND_"+strings.ToUpper(string(k))])
}

func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func fromTS(t *timestamppb.Timestamp) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.AsTime()
}

// alertToProto converts an alert state.
func alertToProto(a rules.Alert) *fleetv1.Alert {
	return &fleetv1.Alert{
		Rule: a.Rule, Target: a.Target, Node: a.Node, Pool: a.Pool,
		State:    fleetv1.AlertState(fleetv1.AlertState_value["ALERT_STATE_"+strings.ToUpper(string(a.State))]),
		Severity: fleetv1.AlertSeverity(fleetv1.AlertSeverity_value["ALERT_SEVERITY_"+strings.ToUpper(string(a.Severity))]),
		Labels:   maps.Clone(a.Labels), Annotations: maps.Clone(a.Annotations),
		ActiveSince: ts(a.ActiveSince), FiredAt: ts(a.FiredAt), ResolvedAt: ts(a.ResolvedAt),
		LastNotified: ts(a.LastNotified), LastAction: ts(a.LastAction), Escalated: a.Escalated, Source: a.Source,
		Notify: append([]string(nil), a.Channels...), LastSuppressed: ts(a.LastSuppressed),
	}
}

// alertFromProto converts a stored alert state.
func alertFromProto(p *fleetv1.Alert) rules.Alert {
	return rules.Alert{
		Rule: p.GetRule(), Target: p.GetTarget(), Node: p.GetNode(), Pool: p.GetPool(),
		State:    rules.State(enumWord(p.GetState().String(), "ALERT_STATE_")),
		Severity: rules.Severity(enumWord(p.GetSeverity().String(), "ALERT_SEVERITY_")),
		Labels:   maps.Clone(p.GetLabels()), Annotations: maps.Clone(p.GetAnnotations()),
		ActiveSince: fromTS(p.GetActiveSince()), FiredAt: fromTS(p.GetFiredAt()), ResolvedAt: fromTS(p.GetResolvedAt()),
		LastNotified: fromTS(p.GetLastNotified()), LastAction: fromTS(p.GetLastAction()), Escalated: p.GetEscalated(), Source: p.GetSource(),
		Channels: append([]string(nil), p.GetNotify()...), LastSuppressed: fromTS(p.GetLastSuppressed()),
	}
}

// silenceFromProto converts an API silence.
func silenceFromProto(p *fleetv1.Silence) rules.Silence {
	s := rules.Silence{ID: p.GetId(), Start: fromTS(p.GetStart()), End: fromTS(p.GetEnd()), Author: p.GetAuthor(), Comment: p.GetComment()}
	for _, m := range p.GetMatchers() {
		s.Matchers = append(s.Matchers, rules.Matcher{Name: m.GetName(), Value: m.GetValue(), Regex: m.GetRegex(), Negate: m.GetNegate()})
	}
	return s
}
