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
	"log/slog"
	"os"
	"os/signal"
	"reflect"
	"syscall"

	"golang.org/x/sync/errgroup"

	"github.com/dspyfleet/dspyfleet/agent"
	"github.com/dspyfleet/dspyfleet/internal/cli"
	"github.com/dspyfleet/dspyfleet/internal/daemon"
	"github.com/dspyfleet/dspyfleet/internal/version"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	setMemoryDefaults(os.LookupEnv)
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
	if st.version {
		_, err := fmt.Fprintln(stdout, version.String("dspyfleet-agent"))
		return err
	}
	if err := cli.CheckLogFormat(st.logFormat); err != nil {
		return err
	}
	cfg := st.cfg
	level, err := cli.LevelVar(st.logLevel)
	if err != nil {
		return err
	}
	cfg.Logger = cli.Logger(level, st.logFormat, stderr)
	tp, stopTracing, err := st.otlp.Start(ctx, "dspyfleet-agent", version.Version)
	if err != nil {
		return err
	}
	defer stopTracing()
	if tp.Enabled() {
		cfg.TracerProvider = tp
	}
	a, err := agent.New(cfg)
	if err != nil {
		return err
	}
	cfg.Logger.Info("agent starting", "node", a.NodeID(), "server", cfg.Server, "interval", cfg.Interval)
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	defer signal.Stop(term)
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	g, gctx := errgroup.WithContext(runCtx)
	notifyCtx, stopNotify := context.WithCancel(gctx)
	g.Go(func() error {
		defer stopNotify()
		return a.Run(gctx)
	})
	g.Go(func() error {
		select {
		case <-gctx.Done():
			return nil
		case <-term:
		}
		a.Terminate(gctx, cfg.TermNotice)
		stopRun()
		return nil
	})
	g.Go(func() error {
		return daemon.Run(notifyCtx, cfg.Logger, a.Ready(), func() { reload(args, stderr, a, st, level, cfg.Logger) })
	})
	return g.Wait()
}

// reload builds the settings again from the same layers and applies the log level and the
// cleanup, backup and deploy actions; other changed settings apply at the next restart, which it
// says. A failure keeps the running settings and says why.
func reload(args []string, stderr io.Writer, a *agent.Agent, running settings, level *slog.LevelVar, log *slog.Logger) {
	next, err := parseSettings(args, stderr, os.LookupEnv)
	if err == nil {
		err = agent.CheckConfig(next.cfg)
	}
	var l slog.Level
	if err == nil {
		l, err = cli.ParseLevel(next.logLevel)
	}
	if err == nil {
		err = a.ReloadActions(next.cfg.ActionsConfig)
	}
	if err != nil {
		log.Error("reload failed; the running configuration stays", "err", err)
		return
	}
	level.Set(l)
	log.Info("configuration reloaded", "log_level", next.logLevel)
	if !reflect.DeepEqual(restartOnly(running.cfg), restartOnly(next.cfg)) {
		log.Warn("changed settings other than log_level and the cleanup, backup and deploy actions apply only after a restart")
	}
}

// restartOnly is c without the settings a reload applies.
func restartOnly(c agent.Config) agent.Config {
	c.ActionsConfig.Cleanup, c.ActionsConfig.Backup, c.ActionsConfig.Deploy = nil, nil, nil
	return c
}
