// Command controlplane runs the dspyfleet control plane: the gRPC API for agents and operators,
// health and Prometheus endpoints, and the bbolt state under --data-dir. With --dev it also runs
// an agent for this host, so one command shows a working fleet of one.
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
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sync/errgroup"

	"github.com/dspyfleet/dspyfleet/agent"
	"github.com/dspyfleet/dspyfleet/controlplane"
	"github.com/dspyfleet/dspyfleet/internal/cli"
	"github.com/dspyfleet/dspyfleet/internal/daemon"
	"github.com/dspyfleet/dspyfleet/internal/version"
)

// devDataDir is the data directory --dev uses when --data-dir is not given.
const devDataDir = "dspyfleet-dev-data"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "controlplane:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "validate" {
		return runValidate(args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "restore" {
		return runRestore(args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "unbind-node" {
		return runUnbind(args[1:], stdout, stderr)
	}
	st, err := parseSettings(args, stderr, os.LookupEnv)
	if err != nil {
		return err
	}
	if st.version {
		_, err := fmt.Fprintln(stdout, version.String("dspyfleet-controlplane"))
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
	log := cli.Logger(level, st.logFormat, stderr)
	cfg.Logger = log

	tp, stopTracing, err := st.otlp.Start(ctx, "dspyfleet-controlplane", version.Version)
	if err != nil {
		return err
	}
	defer stopTracing()
	if tp.Enabled() {
		cfg.TracerProvider = tp
	}
	srv, err := controlplane.New(cfg)
	if err != nil {
		return err
	}
	var devAgent *agent.Agent
	if st.dev {
		acfg := agent.DefaultConfig()
		acfg.Server = srv.GRPCAddr()
		acfg.Token, acfg.TokenFile = cfg.AgentToken, cfg.AgentTokenFile
		acfg.StateDir = filepath.Join(cfg.DataDir, "agent")
		acfg.Labels = map[string]string{"mode": "dev"}
		acfg.Intake.Listen = st.devIntake
		acfg.Logger = log.With("component", "agent")
		if devAgent, err = agent.New(acfg); err != nil {
			return fmt.Errorf("dev agent: %w", err)
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	notifyCtx, stopNotify := context.WithCancel(gctx)
	g.Go(func() error {
		return daemon.Run(notifyCtx, log, nil, func() { reload(args, stderr, srv, level, log) })
	})
	if devAgent == nil {
		g.Go(func() error {
			defer stopNotify()
			return srv.Run(gctx)
		})
		return g.Wait()
	}
	// The dev agent stops first and says goodbye, then the control plane stops.
	srvCtx, stopSrv := context.WithCancel(context.WithoutCancel(gctx))
	defer stopSrv()
	g.Go(func() error {
		defer stopSrv()
		return devAgent.Run(gctx)
	})
	g.Go(func() error {
		defer stopNotify()
		return srv.Run(srvCtx)
	})
	printDevHelp(stdout, srv, devAgent, cfg.DataDir)
	return g.Wait()
}

// reload builds the settings again from the same layers and applies those that can change
// while running; a failure keeps the running settings and says why.
func reload(args []string, stderr io.Writer, srv *controlplane.Server, level *slog.LevelVar, log *slog.Logger) {
	next, err := parseSettings(args, stderr, os.LookupEnv)
	if err != nil {
		log.Error("reload failed; the running configuration stays", "err", err)
		return
	}
	l, err := cli.ParseLevel(next.logLevel)
	if err != nil {
		log.Error("reload failed; the running configuration stays", "err", err)
		return
	}
	restart, err := srv.Reload(next.cfg)
	if err != nil {
		log.Error("reload failed; the running configuration stays", "err", err)
		return
	}
	level.Set(l)
	if len(restart) > 0 {
		log.Warn("changed settings that apply only after a restart", "settings", strings.Join(restart, "; "))
	}
}
