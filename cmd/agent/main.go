// Command agent runs the dspyfleet agent on a worker host: it samples host metrics and streams
// them to the control plane over one Connect stream, reconnecting by itself, and carries out the
// commands the control plane pushes with the actions configured on the host. "agent backup list"
// and "agent backup verify ARCHIVE" inspect the archives of the backup action.
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

	"github.com/dspyfleet/dspyfleet/agent"
	"github.com/dspyfleet/dspyfleet/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	if len(os.Args) > 1 && os.Args[1] == "backup" {
		err = runBackup(os.Args[2:], os.Stdout, os.Stderr)
	} else {
		err = run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	}
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "agent:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "validate" {
		return runValidate(args[1:], stdout, stderr)
	}
	st, err := parseSettings(args, stderr, os.LookupEnv)
	if err != nil {
		return err
	}
	cfg := st.cfg
	level, err := cli.LevelVar(st.logLevel)
	if err != nil {
		return err
	}
	cfg.Logger = cli.Logger(level, stderr)
	a, err := agent.New(cfg)
	if err != nil {
		return err
	}
	cfg.Logger.Info("agent starting", "node", a.NodeID(), "server", cfg.Server, "interval", cfg.Interval)
	return a.Run(ctx)
}
