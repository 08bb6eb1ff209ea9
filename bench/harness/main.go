// Command harness measures dspyfleet at scale against the real binaries: the control plane runs
// as its own process (its CPU and peak RSS read from /proc), simulated agents (internal/sim) run
// in this process. Each subcommand prints Markdown rows for BENCHMARKS.md:
//
//	harness machine                  the machine and its load
//	harness agents    --counts 1000,5000,10000 --interval 1s --hold 60s --commands 200
//	harness failover  --agents 100 --interval 1s --trials 10 [-- control plane flags]
//	harness footprint --intervals 1s,5s --duration 60s
//	harness logs      --interval 5s --rate 1000 --duration 60s
//
// The binaries are built from this module into a temporary directory unless --bin names a
// directory holding controlplane and agent.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "harness:", err)
		os.Exit(1)
	}
}

const usage = `usage: harness machine | agents | failover | footprint | logs [flags]  (-h after a subcommand for its flags)
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		io.WriteString(stderr, usage)
		return flag.ErrHelp
	}
	switch args[0] {
	case "machine":
		return machine(stdout)
	case "agents":
		return agents(ctx, args[1:], stdout, stderr)
	case "failover":
		return failover(ctx, args[1:], stdout, stderr)
	case "footprint":
		return footprint(ctx, args[1:], stdout, stderr)
	case "logs":
		return logCost(ctx, args[1:], stdout, stderr)
	}
	io.WriteString(stderr, usage)
	return fmt.Errorf("unknown subcommand %q", args[0])
}
