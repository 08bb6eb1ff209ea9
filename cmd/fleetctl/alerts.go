package main

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"go.yaml.in/yaml/v3"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// alertsUsage is the usage of the alerts command group.
const alertsUsage = `Usage: fleetctl alerts <list|rules|rule|test|silence|events|deliveries> [flags] [args]

Commands:
  list                  List pending, firing and recently resolved alerts.
  rules                 List the alert and self-healing rules.
  rule set FILE         Create or replace a rule from a YAML or JSON file.
  rule delete NAME      Delete a rule.
  test FILE|NAME        Evaluate a rule (from a file, or stored) against the fleet now; acts on nothing.
  silence create        Silence the notifications of matching alerts (healing still runs).
  silence list          List silences.
  silence delete ID     Delete a silence.
  events                Show alert transitions and healing decisions with their reasons.
  deliveries            Show notification deliveries; --failed for the failed ones.

Run "fleetctl alerts <command> -h" for a command's flags.
`

var alertsListUsage = `Usage: fleetctl alerts list [--state STATE]

List alerts: firing first, then pending, then resolved.

Flags:
  --state STATE   only alerts in this state: pending, firing or resolved (repeatable)

` + globalFlagsText

var alertsRulesUsage = `Usage: fleetctl alerts rules

List the rules: name, scope, severity, for, action and condition.

` + globalFlagsText

var alertsRuleSetUsage = `Usage: fleetctl alerts rule set FILE [--etag ETAG] [--fields LIST]

Create or replace a rule from FILE (YAML or JSON; "-" reads stdin). The control plane compiles
and type-checks the condition and stores nothing when it does not; its message gives the line
and column. Example:

  name: ErrorSpike
  scope: node                  # node, pool or fleet
  condition: node.dspy.requests > 20 && node.dspy.error_rate > 0.2
  for: 2m
  repeat: 30m                  # notify again this often while firing
  severity: critical           # info, warning or critical
  labels: {team: serving}
  annotations:
    summary: 'node {{.Node.ID}} fails {{printf "%.0f" (mul100 .Node.DSPy.ErrorRate)}} % of requests'
  notify: [log, webhook]
  action: {kind: restart, retry: 5m}  # restart, cleanup, drain, backup or scale (params,
                                      # min_healthy); retried every retry while firing
  params: {target_p95_ms: 1500}
  urgent: false                # true: the action runs at once even outside the pool's
                               # maintenance window; otherwise a restart, cleanup or scale
                               # down waits for the window to open

Conditions read node.* (id, pool, state, labels, up, report_age_s, host.{cpu, memory, disk[MOUNT],
disk_max, load1}, dspy.{requests, errors, error_rate, rps, p50_ms, p95_ms, p99_ms, ttft_ms,
input_tokens, output_tokens, cache_hit_ratio, in_flight, queue_length}), pool.* (name, nodes,
healthy, down, cpu, memory, dspy), fleet.* (nodes, healthy, down, dspy), params.NAME,
baseline("METRIC") / zscore("METRIC") for the target's EWMA baseline, and baseline_tod /
zscore_tod for its baseline at this hour of the day (error_rate, p95_ms, p99_ms, rps).

Flags:
  --etag ETAG    store it only if the stored rule still has this etag (ETAG column of
                 "fleetctl alerts rules"); when someone changed it since, nothing is stored
                 and the error says how to retry
  --fields LIST  update only these fields of the stored rule, e.g. condition,for (the
                 AlertRule field names); FILE needs only the name and those fields

` + globalFlagsText

var alertsRuleDeleteUsage = `Usage: fleetctl alerts rule delete NAME [--etag ETAG]

Delete a rule; its alerts resolve at the next evaluation.

Flags:
  --etag ETAG  change it only if it still has this etag (ETAG column of "fleetctl alerts rules"); when
               someone changed it since, nothing changes and the error says how to retry

` + globalFlagsText

var alertsTestUsage = `Usage: fleetctl alerts test FILE|NAME

Evaluate a rule against the current snapshot and print, per target, whether its condition
holds. FILE is a rule file as for "rule set"; otherwise the argument names a stored rule.
Nothing is stored, notified or executed.

` + globalFlagsText

var alertsSilenceCreateUsage = `Usage: fleetctl alerts silence create --match MATCHER [--match ...] --author WHO [flags]

Silence the notifications of alerts whose labels match every matcher. Healing actions still run.

Flags:
  --match MATCHER     label=value, label!=value, label=~regex or label!~regex (repeatable)
  --author WHO        who silences (required)
  --comment TEXT      why
  --duration D        how long from now (default 2h)

` + globalFlagsText

var alertsSilenceListUsage = `Usage: fleetctl alerts silence list [--expired]

List active and future silences; --expired includes ended ones.

` + globalFlagsText

var alertsSilenceDeleteUsage = `Usage: fleetctl alerts silence delete ID [--etag ETAG]

Delete a silence.

Flags:
  --etag ETAG  change it only if it still has this etag (ETAG column of "fleetctl alerts silence list"); when
               someone changed it since, nothing changes and the error says how to retry

` + globalFlagsText

var alertsEventsUsage = `Usage: fleetctl alerts events [--limit N]

Show alert transitions and healing decisions, newest first, with their reasons.

` + globalFlagsText

var alertsDeliveriesUsage = `Usage: fleetctl alerts deliveries [--failed] [--limit N]

Show notification deliveries to webhook and Alertmanager channels, newest first.

` + globalFlagsText

// alertsCommand wraps a call of the alert service.
func alertsCommand(g *globals, f func(ctx context.Context, c fleetv1.AlertServiceClient, stdout io.Writer) error) command {
	return func(ctx context.Context, conn grpc.ClientConnInterface, stdout io.Writer) error {
		ctx, cancel := withTimeout(ctx, g.timeout)
		defer cancel()
		return f(ctx, fleetv1.NewAlertServiceClient(conn), stdout)
	}
}

// parseAlerts parses "fleetctl alerts <command>"; args follow "alerts".
func parseAlerts(g *globals, args []string) (command, error) {
	fs := newFlagSet("alerts", g)
	if err := fs.Parse(args); err != nil {
		return nil, &usageError{usage: alertsUsage, err: err}
	}
	args = fs.Args()
	if len(args) == 0 {
		return nil, usageErrorf(alertsUsage, "alerts: missing command")
	}
	switch args[0] {
	case "list":
		return parseAlertsList(g, args[1:])
	case "rules":
		if _, err := parseCommand(newFlagSet("alerts rules", g), g, args[1:], alertsRulesUsage); err != nil {
			return nil, err
		}
		return alertsCommand(g, func(ctx context.Context, c fleetv1.AlertServiceClient, stdout io.Writer) error {
			resp, err := listAll(ctx, &fleetv1.ListRulesRequest{}, 0, c.ListRules)
			if err != nil {
				return err
			}
			if g.output.structured() {
				return g.output.write(stdout, jsonIndented, resp)
			}
			return writeRules(stdout, resp.GetRules())
		}), nil
	case "rule":
		return parseAlertsRule(g, args[1:])
	case "test":
		return parseAlertsTest(g, args[1:])
	case "silence":
		return parseAlertsSilence(g, args[1:])
	case "events":
		return parseAlertsEvents(g, args[1:])
	case "deliveries":
		return parseAlertsDeliveries(g, args[1:])
	}
	return nil, usageErrorf(alertsUsage, "alerts: unknown command %q", args[0])
}

// sortAlerts orders alerts as "alerts list" shows them: firing first, then pending, then
// resolved, each by rule and target.
func sortAlerts(alerts []*fleetv1.Alert) {
	rank := map[fleetv1.AlertState]int{fleetv1.AlertState_ALERT_STATE_FIRING: 0, fleetv1.AlertState_ALERT_STATE_PENDING: 1, fleetv1.AlertState_ALERT_STATE_RESOLVED: 2}
	slices.SortStableFunc(alerts, func(x, y *fleetv1.Alert) int {
		return cmp.Or(cmp.Compare(rank[x.GetState()], rank[y.GetState()]), cmp.Compare(x.GetRule(), y.GetRule()), cmp.Compare(x.GetTarget(), y.GetTarget()))
	})
}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func parseAlertsList(g *globals, args []string) (command, error) {
	fs := newFlagSet("alerts list", g)
	var states stringList
	fs.Var(&states, "state", "")
	if _, err := parseCommand(fs, g, args, alertsListUsage); err != nil {
		return nil, err
	}
	req := &fleetv1.ListAlertsRequest{}
	for _, s := range states {
		v, ok := fleetv1.AlertState_value["ALERT_STATE_"+strings.ToUpper(s)]
		if !ok || v == 0 {
			return nil, usageErrorf(alertsListUsage, "alerts list: unknown state %q (valid: pending, firing, resolved)", s)
		}
		req.States = append(req.States, fleetv1.AlertState(v))
	}
	return alertsCommand(g, func(ctx context.Context, c fleetv1.AlertServiceClient, stdout io.Writer) error {
		resp, err := listAll(ctx, req, 0, c.ListAlerts)
		if err != nil {
			return err
		}
		sortAlerts(resp.GetAlerts())
		if g.output.structured() {
			return g.output.write(stdout, jsonIndented, resp)
		}
		now := time.Now()
		tw := tabwriter.NewWriter(stdout, 0, 0, 3, ' ', 0)
		fmt.Fprintln(tw, "RULE\tTARGET\tSTATE\tSEVERITY\tSINCE\tSUMMARY")
		for _, a := range resp.GetAlerts() {
			since := a.GetActiveSince()
			switch a.GetState() {
			case fleetv1.AlertState_ALERT_STATE_FIRING:
				since = a.GetFiredAt()
			case fleetv1.AlertState_ALERT_STATE_RESOLVED:
				since = a.GetResolvedAt()
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", a.GetRule(), a.GetTarget(), enumShort(a.GetState().String(), "ALERT_STATE_"),
				enumShort(a.GetSeverity().String(), "ALERT_SEVERITY_"), ago(since, now), orDash(a.GetAnnotations()["summary"]))
		}
		return tw.Flush()
	}), nil
}

func enumShort(name, prefix string) string {
	return strings.ToLower(strings.TrimPrefix(name, prefix))
}

// writeRules writes one row per rule.
func writeRules(w io.Writer, rules []*fleetv1.AlertRule) error {
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSCOPE\tSEVERITY\tFOR\tACTION\tNOTIFY\tETAG\tCONDITION")
	for _, r := range rules {
		action := "-"
		if a := r.GetAction(); a != nil {
			action = enumShort(a.GetKind().String(), "COMMAND_KIND_")
			if r.GetUrgent() {
				action += " (urgent)"
			}
		}
		name := r.GetName()
		if r.GetDisabled() {
			name += " (disabled)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", name, enumShort(r.GetScope().String(), "RULE_SCOPE_"),
			enumShort(r.GetSeverity().String(), "ALERT_SEVERITY_"), duration(r.GetFor()), action, orDash(strings.Join(r.GetNotify(), ",")), orDash(r.GetEtag()), r.GetCondition())
	}
	return tw.Flush()
}

func parseAlertsRule(g *globals, args []string) (command, error) {
	if len(args) == 0 {
		return nil, usageErrorf(alertsUsage, "alerts rule: missing command (set or delete)")
	}
	switch args[0] {
	case "set":
		fs := newFlagSet("alerts rule set", g)
		etag := fs.String("etag", "", "")
		fields := fs.String("fields", "", "")
		pos, err := parseCommand(fs, g, args[1:], alertsRuleSetUsage)
		if err != nil {
			return nil, err
		}
		path, err := onlyArg(pos, alertsRuleSetUsage, "alerts rule set", "file")
		if err != nil {
			return nil, err
		}
		rule, err := readRuleFile(path)
		if err != nil {
			return nil, usageErrorf(alertsRuleSetUsage, "alerts rule set: %v", err)
		}
		req := &fleetv1.SetRuleRequest{Rule: rule, Etag: *etag, UpdateMask: fieldMask(*fields)}
		return alertsCommand(g, func(ctx context.Context, c fleetv1.AlertServiceClient, stdout io.Writer) error {
			resp, err := c.SetRule(ctx, req)
			if err != nil {
				return err
			}
			if g.output.structured() {
				return g.output.write(stdout, jsonIndented, resp)
			}
			_, err = fmt.Fprintf(stdout, "rule %s stored (etag %s)\n", resp.GetRule().GetName(), resp.GetRule().GetEtag())
			return err
		}), nil
	case "delete":
		fs := newFlagSet("alerts rule delete", g)
		etag := fs.String("etag", "", "")
		pos, err := parseCommand(fs, g, args[1:], alertsRuleDeleteUsage)
		if err != nil {
			return nil, err
		}
		name, err := onlyArg(pos, alertsRuleDeleteUsage, "alerts rule delete", "name")
		if err != nil {
			return nil, err
		}
		return alertsCommand(g, func(ctx context.Context, c fleetv1.AlertServiceClient, stdout io.Writer) error {
			if _, err := c.DeleteRule(ctx, &fleetv1.DeleteRuleRequest{Name: name, Etag: *etag}); err != nil {
				return err
			}
			_, err := fmt.Fprintf(stdout, "rule %s deleted\n", name)
			return err
		}), nil
	}
	return nil, usageErrorf(alertsUsage, "alerts rule: unknown command %q", args[0])
}

func onePositional(g *globals, args []string, name, usage, what string) (string, error) {
	pos, err := parseCommand(newFlagSet(name, g), g, args, usage)
	if err != nil {
		return "", err
	}
	return onlyArg(pos, usage, name, what)
}

func parseAlertsTest(g *globals, args []string) (command, error) {
	arg, err := onePositional(g, args, "alerts test", alertsTestUsage, "rule file or name")
	if err != nil {
		return nil, err
	}
	req := &fleetv1.TestRuleRequest{Name: arg}
	if _, statErr := os.Stat(arg); statErr == nil || arg == "-" {
		rule, err := readRuleFile(arg)
		if err != nil {
			return nil, usageErrorf(alertsTestUsage, "alerts test: %v", err)
		}
		req = &fleetv1.TestRuleRequest{Rule: rule}
	}
	return alertsCommand(g, func(ctx context.Context, c fleetv1.AlertServiceClient, stdout io.Writer) error {
		resp, err := c.TestRule(ctx, req)
		if err != nil {
			return err
		}
		if g.output.structured() {
			return g.output.write(stdout, jsonIndented, resp)
		}
		tw := tabwriter.NewWriter(stdout, 0, 0, 3, ' ', 0)
		fmt.Fprintln(tw, "TARGET\tHOLDS\tERROR")
		for _, r := range resp.GetResults() {
			fmt.Fprintf(tw, "%s\t%t\t%s\n", r.GetTarget(), r.GetHolds(), orDash(r.GetError()))
		}
		return tw.Flush()
	}), nil
}

// ruleFile is the YAML/JSON form of a rule.
type ruleFile struct {
	Name        string             `yaml:"name"`
	Scope       string             `yaml:"scope"`
	Condition   string             `yaml:"condition"`
	For         time.Duration      `yaml:"for"`
	Repeat      time.Duration      `yaml:"repeat"`
	Severity    string             `yaml:"severity"`
	Labels      map[string]string  `yaml:"labels"`
	Annotations map[string]string  `yaml:"annotations"`
	Notify      []string           `yaml:"notify"`
	Action      *ruleFileAction    `yaml:"action"`
	Params      map[string]float64 `yaml:"params"`
	Disabled    bool               `yaml:"disabled"`
	Urgent      bool               `yaml:"urgent"`
}

type ruleFileAction struct {
	Kind       string            `yaml:"kind"`
	Params     map[string]string `yaml:"params"`
	MinHealthy uint32            `yaml:"min_healthy"`
	Retry      time.Duration     `yaml:"retry"`
}

// readRuleFile reads a rule from a YAML or JSON file ("-" for stdin); unknown keys are errors.
func readRuleFile(path string) (*fleetv1.AlertRule, error) {
	var data []byte
	var err error
	if path == "-" {
		data, err = io.ReadAll(os.Stdin)
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, err
	}
	return parseRuleFile(path, data)
}

// parseRuleFile decodes a rule file, naming the file and line of a mistake.
func parseRuleFile(path string, data []byte) (*fleetv1.AlertRule, error) {
	var f ruleFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("rule file %s is empty", path)
		}
		return nil, fmt.Errorf("rule file %s: %w", path, err)
	}
	r := &fleetv1.AlertRule{
		Name: f.Name, Condition: f.Condition, Labels: f.Labels, Annotations: f.Annotations, Notify: f.Notify,
		Params: f.Params, Disabled: f.Disabled, Urgent: f.Urgent,
	}
	// An empty scope or severity stays unspecified: a partial update (--fields) needs neither,
	// and the control plane refuses a whole rule without them.
	if f.Scope != "" {
		scope, ok := fleetv1.RuleScope_value["RULE_SCOPE_"+strings.ToUpper(f.Scope)]
		if !ok || scope == 0 {
			return nil, fmt.Errorf("rule file %s: scope %q is not node, pool or fleet", path, f.Scope)
		}
		r.Scope = fleetv1.RuleScope(scope)
	}
	if f.Severity != "" {
		sev, ok := fleetv1.AlertSeverity_value["ALERT_SEVERITY_"+strings.ToUpper(f.Severity)]
		if !ok || sev == 0 {
			return nil, fmt.Errorf("rule file %s: severity %q is not info, warning or critical", path, f.Severity)
		}
		r.Severity = fleetv1.AlertSeverity(sev)
	}
	if f.For != 0 {
		r.For = durationpb.New(f.For)
	}
	if f.Repeat != 0 {
		r.RepeatInterval = durationpb.New(f.Repeat)
	}
	if a := f.Action; a != nil {
		kind, err := parseKind(a.Kind)
		if err != nil {
			return nil, fmt.Errorf("rule file %s: action.kind: %w", path, err)
		}
		r.Action = &fleetv1.HealingAction{Kind: kind, Params: a.Params, MinHealthy: a.MinHealthy}
		if a.Retry != 0 {
			r.Action.RetryInterval = durationpb.New(a.Retry)
		}
	}
	return r, nil
}

func parseAlertsSilence(g *globals, args []string) (command, error) {
	if len(args) == 0 {
		return nil, usageErrorf(alertsUsage, "alerts silence: missing command (create, list or delete)")
	}
	switch args[0] {
	case "create":
		fs := newFlagSet("alerts silence create", g)
		var matches stringList
		fs.Var(&matches, "match", "")
		author := fs.String("author", "", "")
		comment := fs.String("comment", "", "")
		dur := fs.Duration("duration", 2*time.Hour, "")
		pos, err := parseCommand(fs, g, args[1:], alertsSilenceCreateUsage)
		if err != nil {
			return nil, err
		}
		if len(pos) > 0 {
			return nil, usageErrorf(alertsSilenceCreateUsage, "alerts silence create: unexpected argument %q", pos[0])
		}
		if len(matches) == 0 || *author == "" {
			return nil, usageErrorf(alertsSilenceCreateUsage, "alerts silence create: --match and --author are required")
		}
		var ms []*fleetv1.SilenceMatcher
		for _, m := range matches {
			sm, err := parseMatcher(m)
			if err != nil {
				return nil, usageErrorf(alertsSilenceCreateUsage, "alerts silence create: %v", err)
			}
			ms = append(ms, sm)
		}
		return alertsCommand(g, func(ctx context.Context, c fleetv1.AlertServiceClient, stdout io.Writer) error {
			now := time.Now()
			resp, err := c.CreateSilence(ctx, &fleetv1.CreateSilenceRequest{Silence: &fleetv1.Silence{
				Matchers: ms, Author: *author, Comment: *comment, Start: timestamppb.New(now), End: timestamppb.New(now.Add(*dur)),
			}})
			if err != nil {
				return err
			}
			if g.output.structured() {
				return g.output.write(stdout, jsonIndented, resp)
			}
			_, err = fmt.Fprintf(stdout, "silence %s until %s\n", resp.GetSilence().GetId(), resp.GetSilence().GetEnd().AsTime().Local().Format(time.DateTime))
			return err
		}), nil
	case "list":
		fs := newFlagSet("alerts silence list", g)
		expired := fs.Bool("expired", false, "")
		if _, err := parseCommand(fs, g, args[1:], alertsSilenceListUsage); err != nil {
			return nil, err
		}
		return alertsCommand(g, func(ctx context.Context, c fleetv1.AlertServiceClient, stdout io.Writer) error {
			resp, err := listAll(ctx, &fleetv1.ListSilencesRequest{IncludeExpired: *expired}, 0, c.ListSilences)
			if err != nil {
				return err
			}
			if g.output.structured() {
				return g.output.write(stdout, jsonIndented, resp)
			}
			tw := tabwriter.NewWriter(stdout, 0, 0, 3, ' ', 0)
			fmt.Fprintln(tw, "ID\tMATCHERS\tSTART\tEND\tAUTHOR\tETAG\tCOMMENT")
			for _, s := range resp.GetSilences() {
				var ms []string
				for _, m := range s.GetMatchers() {
					ms = append(ms, matcherString(m))
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.GetId(), strings.Join(ms, ","), s.GetStart().AsTime().Local().Format(time.DateTime),
					s.GetEnd().AsTime().Local().Format(time.DateTime), s.GetAuthor(), orDash(s.GetEtag()), orDash(s.GetComment()))
			}
			return tw.Flush()
		}), nil
	case "delete":
		fs := newFlagSet("alerts silence delete", g)
		etag := fs.String("etag", "", "")
		pos, err := parseCommand(fs, g, args[1:], alertsSilenceDeleteUsage)
		if err != nil {
			return nil, err
		}
		id, err := onlyArg(pos, alertsSilenceDeleteUsage, "alerts silence delete", "silence id")
		if err != nil {
			return nil, err
		}
		return alertsCommand(g, func(ctx context.Context, c fleetv1.AlertServiceClient, stdout io.Writer) error {
			if _, err := c.DeleteSilence(ctx, &fleetv1.DeleteSilenceRequest{Id: id, Etag: *etag}); err != nil {
				return err
			}
			_, err := fmt.Fprintf(stdout, "silence %s deleted\n", id)
			return err
		}), nil
	}
	return nil, usageErrorf(alertsUsage, "alerts silence: unknown command %q", args[0])
}

// parseMatcher parses label=value, label!=value, label=~regex or label!~regex.
func parseMatcher(s string) (*fleetv1.SilenceMatcher, error) {
	for _, op := range []string{"!~", "=~", "!=", "="} {
		if name, value, ok := strings.Cut(s, op); ok && name != "" {
			return &fleetv1.SilenceMatcher{Name: name, Value: value, Regex: strings.HasSuffix(op, "~"), Negate: op[0] == '!'}, nil
		}
	}
	return nil, fmt.Errorf("matcher %q is not label=value, label!=value, label=~regex or label!~regex", s)
}

func matcherString(m *fleetv1.SilenceMatcher) string {
	op := "="
	switch {
	case m.GetRegex() && m.GetNegate():
		op = "!~"
	case m.GetRegex():
		op = "=~"
	case m.GetNegate():
		op = "!="
	}
	return m.GetName() + op + m.GetValue()
}

func parseAlertsEvents(g *globals, args []string) (command, error) {
	fs := newFlagSet("alerts events", g)
	limit := fs.Uint("limit", 50, "")
	if _, err := parseCommand(fs, g, args, alertsEventsUsage); err != nil {
		return nil, err
	}
	return alertsCommand(g, func(ctx context.Context, c fleetv1.AlertServiceClient, stdout io.Writer) error {
		resp, err := listAll(ctx, &fleetv1.AlertServiceListEventsRequest{}, int(*limit), c.ListEvents)
		if err != nil {
			return err
		}
		if g.output.structured() {
			return g.output.write(stdout, jsonIndented, resp)
		}
		tw := tabwriter.NewWriter(stdout, 0, 0, 3, ' ', 0)
		fmt.Fprintln(tw, "TIME\tKIND\tRULE\tTARGET\tMESSAGE")
		for _, e := range resp.GetEvents() {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.GetTime().AsTime().Local().Format(time.DateTime), e.GetKind(), e.GetRule(), e.GetTarget(), e.GetMessage())
		}
		return tw.Flush()
	}), nil
}

func parseAlertsDeliveries(g *globals, args []string) (command, error) {
	fs := newFlagSet("alerts deliveries", g)
	limit := fs.Uint("limit", 50, "")
	failed := fs.Bool("failed", false, "")
	if _, err := parseCommand(fs, g, args, alertsDeliveriesUsage); err != nil {
		return nil, err
	}
	return alertsCommand(g, func(ctx context.Context, c fleetv1.AlertServiceClient, stdout io.Writer) error {
		resp, err := listAll(ctx, &fleetv1.ListDeliveriesRequest{FailedOnly: *failed}, int(*limit), c.ListDeliveries)
		if err != nil {
			return err
		}
		if g.output.structured() {
			return g.output.write(stdout, jsonIndented, resp)
		}
		tw := tabwriter.NewWriter(stdout, 0, 0, 3, ' ', 0)
		fmt.Fprintln(tw, "TIME\tCHANNEL\tRULE\tTARGET\tKIND\tATTEMPTS\tDELIVERED\tERROR")
		for _, d := range resp.GetDeliveries() {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%t\t%s\n", d.GetTime().AsTime().Local().Format(time.DateTime), d.GetChannel(), d.GetRule(),
				d.GetTarget(), d.GetKind(), d.GetAttempts(), d.GetDelivered(), orDash(d.GetError()))
		}
		return tw.Flush()
	}), nil
}
