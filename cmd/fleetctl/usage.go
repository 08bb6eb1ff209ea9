package main

import (
	"flag"
	"strings"
)

// globalFlagsText describes the flags every command accepts.
const globalFlagsText = `Global flags (before the command or among its flags):
  --addr HOST:PORT      control plane address (default $DSPYFLEET_ADDR, else 127.0.0.1:7070)
  -o, --output FORMAT   table or json (default table); json is the API's protojson, as grpcurl prints it
  --timeout DURATION    limit for each request, and for watch the wait for its first event;
                        0 means none (default 10s)
`

// usageText is the usage of fleetctl as a whole.
const usageText = `Usage: fleetctl [global flags] <command> [flags] [args]

fleetctl operates a dspyfleet control plane over its admin gRPC API.

Commands:
  nodes list    List nodes, filtered by pool, state and labels.
  nodes get     Show one node in detail.
  nodes watch   Print node events as they happen, until interrupted.
  help          Show help, e.g. "fleetctl help nodes list". Every command also takes -h.

` + globalFlagsText

// nodesUsage is the usage of the nodes command group.
const nodesUsage = `Usage: fleetctl nodes <list|get|watch> [flags] [args]

Commands:
  list    List nodes, filtered by pool, state and labels.
  get     Show one node in detail.
  watch   Print node events as they happen, until interrupted.

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

// usages maps each command path that "fleetctl help" knows to its usage text.
var usages = map[string]string{
	"":            usageText,
	"nodes":       nodesUsage,
	"nodes list":  listUsage,
	"nodes get":   getUsage,
	"nodes watch": watchUsage,
}

// help answers "fleetctl help [command...]" with the usage of the named command.
func help(args []string) error {
	usage, ok := usages[strings.Join(args, " ")]
	if !ok {
		return usageErrorf(usageText, "help: unknown command %q", strings.Join(args, " "))
	}
	return &usageError{usage: usage, err: flag.ErrHelp}
}
