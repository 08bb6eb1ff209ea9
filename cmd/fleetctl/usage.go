package main

import (
	"flag"
	"maps"
	"slices"
	"strings"
)

// globalFlagsText describes the flags every command accepts.
const globalFlagsText = `Global flags (before the command or among its flags):
  --addr HOST:PORT      control plane address (default $DSPYFLEET_ADDR, else 127.0.0.1:7070)
  --token-file FILE     file holding the admin or read-only token, sent as "authorization: Bearer"
                        (default: the token in $DSPYFLEET_TOKEN, else none)
  --tls                 connect over TLS, verifying the control plane against the system's CAs
  --ca-file FILE        ... or against the CA certificate in FILE (implies --tls; default
                        $DSPYFLEET_CACERT)
  -o, --output FORMAT   table, wide, json or yaml (default table). wide adds columns where a
                        command has more (nodes list: host name, instance type, agent version,
                        peer); json is the API's protojson, as grpcurl prints it, and yaml the
                        same fields in YAML (a "---" document per message when streaming)
  --timeout DURATION    limit for each request, and for nodes watch the wait for its first event;
                        0 means none (default 10s). "cmd send" has a --timeout of its own: give
                        this one before "cmd" there
`

// usageText is the usage of fleetctl as a whole.
const usageText = `Usage: fleetctl [global flags] <command> [flags] [args]

fleetctl operates a dspyfleet control plane over its admin gRPC API.

Commands:
  nodes list      List nodes, filtered by pool, state and labels.
  nodes get       Show one node in detail.
  nodes watch     Print node events as they happen, until interrupted.
  nodes drain     Take a node out of routing at once and have its agent drain it.
  nodes undrain   Have a drained or draining node take traffic again.
  cmd send        Send a command (restart, deploy, scale, ...) to a node; --wait for its outcome.
  cmd list        List commands, newest first, filtered by node, state and kind.
  cmd get         Show one command: parameters, outcome and history.
  cmd cancel      Cancel a command that has not been delivered yet.
  cmd watch       Print command changes as they happen, until interrupted.
  pools stats     Show a pool's DSPy request figures per node, model and program.
  route pick      Ask for a node of a pool for one request.
  route status    Show each node's routing eligibility, weight, load and ejection.
  route watch     Print a pool's routing set on every change, until interrupted.
  route policy    Show (get) or change (set) a pool's routing policy.
  config          Apply, validate, export, list, diff and roll back fleet policy revisions.
  scale status    Show a pool's latest scaling decision and why, its forecast and actuation.
  scale policy    Get or set a pool's scaling policy (a YAML or JSON policy file).
  scale history   List a pool's recorded scaling decisions.
  simulate        Replay a load trace through the autoscaler offline: static vs reactive vs predictive.
  version         Print fleetctl's version.
  tls             Create a CA and the control plane's and agents' certificates (TLS, mTLS).
  completion      Print a bash, zsh or fish completion script.
  cost report     Host and token cost by pool, node, model, program or capacity type.
  cost budgets    Budgets, their standing this period and recent alerts; cost budget set|delete.
  cost prices     The price table; cost prices set FILE replaces it.
  cost recs       Savings recommendations; cost recs dismiss|done ID.
  audit           List admin calls that changed state and security events, newest first.
  alerts list     List pending, firing and recently resolved alerts.
  alerts rules    List the alert and self-healing rules; "alerts rule set FILE" changes one.
  alerts test     Evaluate a rule against the fleet now, without acting.
  alerts silence  Create, list or delete silences of alert notifications.
  alerts events   Show alert transitions and healing decisions with their reasons.
  backup create   Back up the control plane's state now.
  backup list     List the control plane's and the agents' backups.
  backup verify   Check a backup through and through.
  deploy start    Deploy a version to a pool: rolling, canary or blue_green.
  deploy status   List deployments, or show one with its per-node progress.
  deploy watch    Follow a deployment until it ends.
  deploy pause    Pause a deployment; resume continues it.
  deploy abort    Stop a deployment and undo its routing changes.
  maint schedule  Schedule a maintenance window (one-off or cron) over a pool.
  maint list      List maintenance windows.
  maint get       Show a window with each node's progress and task results.
  maint cancel    Cancel a window; nodes in progress are undrained.
  logs top        A pool's busiest log templates, new ones and anomalies.
  logs templates  Every log template of one node, with the figures rules read (node.logs).
  help            Show help, e.g. "fleetctl help cmd send". Every command also takes -h.

Exit status: 0 done, 1 failed, 2 bad command line, 3 not found, 4 credentials missing, wrong or
not allowed, 5 control plane unreachable or too slow (retrying may help).

` + globalFlagsText

// nodesUsage is the usage of the nodes command group.
const nodesUsage = `Usage: fleetctl nodes <list|get|watch|drain|undrain> [flags] [args]

Commands:
  list      List nodes, filtered by pool, state and labels.
  get       Show one node in detail.
  watch     Print node events as they happen, until interrupted.
  drain     Take a node out of routing at once and have its agent drain it.
  undrain   Have a drained or draining node take traffic again.

Run "fleetctl nodes <command> -h" for a command's flags.
`

// listUsage is the usage of "nodes list".
var listUsage = `Usage: fleetctl nodes list [--pool POOL] [--state STATE,...] [--label KEY=VALUE ...]

List the nodes matching every given filter, sorted by id.

Flags:
  --pool POOL           only nodes in this pool
  --state STATE,...     only nodes in one of these states; repeatable
                        (` + strings.Join(stateNames(), ", ") + `)
  --label KEY=VALUE     only nodes with this label; repeatable, all must match

` + globalFlagsText

// getUsage is the usage of "nodes get".
const getUsage = `Usage: fleetctl nodes get [flags] ID

Show one node: state and why, pool, labels, weight, price, agent, session, and its last
metrics report.

` + globalFlagsText

// watchUsage is the usage of "nodes watch".
const watchUsage = `Usage: fleetctl nodes watch [--pool POOL] [--reports]

Print the current nodes, then one line per change, until Ctrl-C. With -o json, print one
WatchNodesResponse per line.

Flags:
  --pool POOL           only nodes in this pool
  --reports             also print an event for every metrics report

` + globalFlagsText

// drainUsage is the usage of "nodes drain".
const drainUsage = `Usage: fleetctl nodes drain [--deadline DURATION] [--reason TEXT] ID

Take the node out of routing at once (state draining) and queue a drain command for its
agent, which stops taking requests and reports drained when none is left in flight, or at
the deadline. Prints the command; follow it with "fleetctl cmd get CMD-ID". With -o json,
print the CommandRecord.

Flags:
  --deadline DURATION   longest wait for in-flight requests to finish (default 5m)
  --reason TEXT         why, for the audit trail

` + globalFlagsText

// undrainUsage is the usage of "nodes undrain".
const undrainUsage = `Usage: fleetctl nodes undrain [--reason TEXT] ID

Queue an undrain command: the node returns to ready when its agent confirms. With -o json,
print the CommandRecord.

Flags:
  --reason TEXT         why, for the audit trail

` + globalFlagsText

// cmdUsage is the usage of the cmd command group.
const cmdUsage = `Usage: fleetctl cmd <send|list|get|cancel|watch> [flags] [args]

Commands:
  send     Send a command to a node; --wait for its outcome.
  list     List commands, newest first, filtered by node, state and kind.
  get      Show one command: parameters, outcome and history.
  cancel   Cancel a command that has not been delivered yet.
  watch    Print command changes as they happen, until interrupted.

Run "fleetctl cmd <command> -h" for a command's flags.
`

// sendUsage is the usage of "cmd send".
var sendUsage = `Usage: fleetctl cmd send [flags] NODE-ID KIND

Queue a command for a node. The agent carries it out with the action configured on its own
host for KIND, one of: ` + strings.Join(kindNames(), ", ") + `.
Prints the command's id and state; with -o json, the CommandRecord.

Flags of one kind each:
  --version V           deploy: the version to run (required)
  --instances N         scale: how many instances to run, 0 to 1024 (required)
  --dry-run             cleanup: report what would be deleted, delete nothing
  --deadline DURATION   drain: longest wait for in-flight requests to finish (default 5m)
  --action NAME         custom: the action configured on the agent (actions.custom) (required)

Flags:
  --timeout DURATION    the command expires unless its agent starts it within this time
                        (default 10m). Not the request limit: give that before "cmd"
  --reason TEXT         why, for the audit trail
  --now                 send a disruptive command (restart, deploy, cleanup, scale down) at
                        once even though the node's pool has a maintenance window that is not
                        open; without it the command is held until the window opens (state
                        held, "cmd list" says until when). The audit record names the window
                        overridden
  --wait                wait until the command has finished, print how it ended (with -o
                        json the final CommandRecord only) and exit with 1 unless it
                        succeeded; Ctrl-C stops waiting, not the command

Global flags (before the command or among its flags, but --timeout only before "cmd"):
  --addr HOST:PORT      control plane address (default $DSPYFLEET_ADDR, else 127.0.0.1:7070)
  --token-file FILE     file holding the admin or read-only token, sent as "authorization: Bearer"
                        (default: the token in $DSPYFLEET_TOKEN, else none)
  --tls                 connect over TLS, verifying the control plane against the system's CAs
  --ca-file FILE        ... or against the CA certificate in FILE (implies --tls; default
                        $DSPYFLEET_CACERT)
  -o, --output FORMAT   table, wide, json or yaml (default table). wide adds columns where a
                        command has more (nodes list: host name, instance type, agent version,
                        peer); json is the API's protojson, as grpcurl prints it, and yaml the
                        same fields in YAML (a "---" document per message when streaming)
  --timeout DURATION    limit for each request, e.g. "fleetctl --timeout 30s cmd send ...";
                        0 means none (default 10s)
`

// cmdListUsage is the usage of "cmd list".
var cmdListUsage = `Usage: fleetctl cmd list [--node ID] [--state STATE,...] [--kind KIND,...] [--limit N]

List the commands matching every given filter, newest first.

Flags:
  --node ID             only commands for this node
  --state STATE,...     only commands in one of these states; repeatable
                        (` + strings.Join(commandStateNames(), ", ") + `)
  --kind KIND,...       only commands of one of these kinds; repeatable
                        (` + strings.Join(kindNames(), ", ") + `)
  --limit N             at most N commands (default 100)

` + globalFlagsText

// cmdGetUsage is the usage of "cmd get".
const cmdGetUsage = `Usage: fleetctl cmd get [flags] ID

Show one command: node, kind and parameters, state and detail, the fields the agent reported
(bytes freed, archive and sha256, exit status, version, ...), who asked and why, its
deadline, and every state it went through.

` + globalFlagsText

// cancelUsage is the usage of "cmd cancel".
const cancelUsage = `Usage: fleetctl cmd cancel [--reason TEXT] ID

Cancel a command that is still pending (not yet delivered to its agent). A command that was
delivered runs or expires at its deadline; cancelling it fails with FailedPrecondition.

Flags:
  --reason TEXT         why, for the audit trail

` + globalFlagsText

// cmdWatchUsage is the usage of "cmd watch".
const cmdWatchUsage = `Usage: fleetctl cmd watch [--node ID]

Print one line per command change (time, command id, node, kind, state, detail) until
Ctrl-C. Nothing is printed until a command changes, so --timeout does not apply. With -o
json, print one WatchCommandsResponse per line.

Flags:
  --node ID             only commands for this node

` + globalFlagsText

// usages maps each command path that "fleetctl help" knows to its usage text.
var usages = map[string]string{
	"":                 usageText,
	"logs":             logsUsage,
	"logs top":         logsTopUsage,
	"logs templates":   logsTemplatesUsage,
	"nodes":            nodesUsage,
	"nodes list":       listUsage,
	"nodes get":        getUsage,
	"nodes watch":      watchUsage,
	"nodes drain":      drainUsage,
	"nodes undrain":    undrainUsage,
	"cmd":              cmdUsage,
	"cmd send":         sendUsage,
	"cmd list":         cmdListUsage,
	"cmd get":          cmdGetUsage,
	"cmd cancel":       cancelUsage,
	"cmd watch":        cmdWatchUsage,
	"pools":            poolsUsage,
	"pools stats":      poolStatsUsage,
	"route":            routeUsage,
	"route pick":       routePickUsage,
	"route status":     routeStatusUsage,
	"route watch":      routeWatchUsage,
	"route policy get": routePolicyGetUsage,
	"route policy set": routePolicySetUsage,
	"config":           configUsage,
	"simulate":         simulateUsage,
	"version":          versionUsage,
	"tls":              tlsUsage,
	"tls ca create":    tlsUsage,
	"tls cert create":  tlsUsage,
	"completion":       completionUsage,
	"scale":            scaleUsage,
	"scale status":     scaleStatusUsage,
	"scale policy get": scalePolicyGetUsage,
	"scale policy set": scalePolicySetUsage,
	"scale history":    scaleHistoryUsage,

	"cost":               costUsage,
	"cost report":        costReportUsage,
	"cost budgets":       costBudgetsUsage,
	"cost budget set":    costBudgetSetUsage,
	"cost budget delete": costBudgetDeleteUsage,
	"cost prices":        costPricesUsage,
	"cost prices set":    costPricesSetUsage,
	"cost recs":          costRecsUsage,
	"audit":              auditUsage,

	"alerts":                alertsUsage,
	"alerts list":           alertsListUsage,
	"alerts rules":          alertsRulesUsage,
	"alerts rule set":       alertsRuleSetUsage,
	"alerts rule delete":    alertsRuleDeleteUsage,
	"alerts test":           alertsTestUsage,
	"alerts silence create": alertsSilenceCreateUsage,
	"alerts silence list":   alertsSilenceListUsage,
	"alerts silence delete": alertsSilenceDeleteUsage,
	"alerts events":         alertsEventsUsage,
	"alerts deliveries":     alertsDeliveriesUsage,
	"backup":                backupUsage,
	"backup create":         backupCreateUsage,
	"backup list":           backupListUsage,
	"backup verify":         backupVerifyUsage,
	"deploy":                deployUsage,
	"deploy start":          deployStartUsage,
	"deploy status":         deployStatusUsage,
	"deploy watch":          deployIDUsage,
	"deploy pause":          deployIDUsage,
	"deploy resume":         deployIDUsage,
	"deploy abort":          deployIDUsage,
	"maint":                 maintUsage,
	"maint schedule":        maintScheduleUsage,
	"maint list":            maintListUsage,
	"maint get":             maintIDUsage,
	"maint pause":           maintIDUsage,
	"maint resume":          maintIDUsage,
	"maint cancel":          maintIDUsage,
}

// shortUsage is what a usage error prints, as kubectl and git do: the usage's synopsis (its
// text up to the first blank line) and where the whole of it is, not the whole of it.
func shortUsage(usage string) string {
	synopsis, _, _ := strings.Cut(usage, "\n\n")
	path := ""
	for _, p := range slices.Sorted(maps.Keys(usages)) {
		if usages[p] == usage {
			path = p
			break
		}
	}
	if path == "" {
		return synopsis + "\nRun 'fleetctl help' for the commands, 'fleetctl help COMMAND' for one's flags.\n"
	}
	return synopsis + "\nRun 'fleetctl help " + path + "' for its flags and what it prints.\n"
}

// help answers "fleetctl help [command...]" with the usage of the named command.
func help(args []string) error {
	usage, ok := usages[strings.Join(args, " ")]
	if !ok {
		return usageErrorf(usageText, "help: unknown command %q", strings.Join(args, " "))
	}
	return &usageError{usage: usage, err: flag.ErrHelp}
}
