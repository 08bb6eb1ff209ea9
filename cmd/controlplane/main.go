// Command controlplane runs the dspyfleet control plane: the gRPC API for agents and operators,
// health and Prometheus endpoints, and the bbolt state under --data-dir. With --dev it also runs
// an agent for this host, so one command shows a working fleet of one. "controlplane restore
// --from FILE --data-dir DIR" restores the state from a backup, offline.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"golang.org/x/sync/errgroup"

	"github.com/dspyfleet/dspyfleet/agent"
	"github.com/dspyfleet/dspyfleet/agent/intake"
	"github.com/dspyfleet/dspyfleet/controlplane"
	"github.com/dspyfleet/dspyfleet/internal/cli"
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
	if len(args) > 0 && args[0] == "restore" {
		return runRestore(args[1:], stdout, stderr)
	}
	cfg := controlplane.DefaultConfig()
	fs := flag.NewFlagSet("controlplane", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "YAML configuration file; flags given on the command line override it")
	dev := fs.Bool("dev", false, "development mode: also run an agent for this host, data in ./"+devDataDir+" unless --data-dir is set")
	devIntake := fs.String("dev-intake-listen", intake.DefaultListen, "with --dev: the local agent's request intake address")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&cfg.GRPCListen, "grpc-listen", cfg.GRPCListen, "gRPC listen address (agents and admin API)")
	fs.StringVar(&cfg.HTTPListen, "http-listen", cfg.HTTPListen, "HTTP listen address for /healthz, /readyz and /metrics")
	fs.StringVar(&cfg.DataDir, "data-dir", cfg.DataDir, "directory holding fleet.db")
	fs.DurationVar(&cfg.NodeTTL, "node-ttl", cfg.NodeTTL, "report silence before a node is down; 0 means 3 × each agent's interval")
	fs.DurationVar(&cfg.TTLGrace, "ttl-grace", cfg.TTLGrace, "grace added to the node TTL before a node is declared down")
	fs.DurationVar(&cfg.FailoverTTL, "failover-ttl", cfg.FailoverTTL, "least time every known node gets after a restart before it may be declared down")
	fs.DurationVar(&cfg.LivenessCheck, "liveness-check", cfg.LivenessCheck, "how often silent nodes are looked for")
	fs.DurationVar(&cfg.ReconcileInterval, "reconcile-interval", cfg.ReconcileInterval, "how often the reconcile loop runs (routing, scaling, healing, alerts, cost)")
	fs.DurationVar(&cfg.FlushInterval, "flush-interval", cfg.FlushInterval, "how often changed nodes are written to bbolt in one transaction")
	fs.IntVar(&cfg.MaxRecvBytes, "max-recv-bytes", cfg.MaxRecvBytes, "largest gRPC message accepted, in bytes")
	fs.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", cfg.ShutdownTimeout, "bound on the graceful stop")
	fs.DurationVar(&cfg.CommandRetention, "command-retention", cfg.CommandRetention, "how long finished commands are kept")
	fs.DurationVar(&cfg.RollupRetention, "rollup-retention", cfg.RollupRetention, "how long one-minute DSPy request rollups are kept")
	fs.StringVar(&cfg.BackupDir, "backup-dir", cfg.BackupDir, "directory of the control plane's backups (default <data-dir>/backups)")
	fs.DurationVar(&cfg.BackupInterval, "backup-interval", cfg.BackupInterval, "how often a backup is taken on schedule; 0 turns it off")
	fs.IntVar(&cfg.BackupKeep, "backup-keep", cfg.BackupKeep, "how many backups to keep; 0 means no count limit")
	fs.DurationVar(&cfg.BackupMaxAge, "backup-max-age", cfg.BackupMaxAge, "remove backups older than this (the newest is always kept); 0 means no age limit")
	fs.DurationVar(&cfg.DeployDrainGrace, "deploy-drain-grace", cfg.DeployDrainGrace, "how long a deployment keeps a node out of routing before draining it")
	if err := cli.Parse(fs, args, configPath, func(path string) error { return controlplane.LoadFile(path, &cfg) }); err != nil {
		return err
	}
	dataDirSet := false
	fs.Visit(func(f *flag.Flag) { dataDirSet = dataDirSet || f.Name == "data-dir" })
	if *dev && !dataDirSet && *configPath == "" {
		cfg.DataDir = devDataDir
	}
	log, err := cli.Logger(*logLevel, stderr)
	if err != nil {
		return err
	}
	cfg.Logger = log

	srv, err := controlplane.New(cfg)
	if err != nil {
		return err
	}
	var devAgent *agent.Agent
	if *dev {
		acfg := agent.DefaultConfig()
		acfg.Server = srv.GRPCAddr()
		acfg.StateDir = filepath.Join(cfg.DataDir, "agent")
		acfg.Labels = map[string]string{"mode": "dev"}
		acfg.Intake.Listen = *devIntake
		acfg.Logger = log.With("component", "agent")
		if devAgent, err = agent.New(acfg); err != nil {
			return fmt.Errorf("dev agent: %w", err)
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	if devAgent == nil {
		g.Go(func() error { return srv.Run(gctx) })
		return g.Wait()
	}
	// The dev agent stops first and says goodbye, then the control plane stops.
	srvCtx, stopSrv := context.WithCancel(context.WithoutCancel(gctx))
	defer stopSrv()
	g.Go(func() error {
		defer stopSrv()
		return devAgent.Run(gctx)
	})
	g.Go(func() error { return srv.Run(srvCtx) })
	printDevHelp(stdout, srv, devAgent, cfg.DataDir)
	return g.Wait()
}

func printDevHelp(w io.Writer, srv *controlplane.Server, ag *agent.Agent, dataDir string) {
	fmt.Fprintf(w, `dspyfleet control plane (dev mode) with a local agent
  gRPC    %[1]s   (reflection on)
  HTTP    http://%[2]s/metrics  /healthz  /readyz
  intake  http://%[4]s/v1/requests   (report DSPy requests here)
  data    %[3]s

Try, in another terminal:
  go run ./cmd/fleetctl --addr %[1]s nodes list
  go run ./cmd/fleetctl --addr %[1]s nodes watch
  go tool -modfile=tools/go.mod grpcurl -plaintext %[1]s list
  go tool -modfile=tools/go.mod grpcurl -plaintext %[1]s dspyfleet.v1.FleetService/ListNodes
  curl -s -d '{"program":"qa","model":"openai/gpt-4o-mini","latency_ms":812,"input_tokens":120,"output_tokens":30}' http://%[4]s/v1/requests
  go run ./cmd/fleetctl --addr %[1]s pools stats

`, srv.GRPCAddr(), srv.HTTPAddr(), dataDir, ag.IntakeAddr())
}
