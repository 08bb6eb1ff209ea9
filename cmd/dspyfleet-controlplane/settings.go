package main

import (
	"flag"
	"io"

	"github.com/dspyfleet/dspyfleet/agent/intake"
	"github.com/dspyfleet/dspyfleet/controlplane"
	"github.com/dspyfleet/dspyfleet/controlplane/alerts"
	"github.com/dspyfleet/dspyfleet/internal/cli"
	"github.com/dspyfleet/dspyfleet/internal/tracing"
)

// settings are the command's settings after layering profile, file, environment and flags.
type settings struct {
	otlp       tracing.Flags
	cfg        controlplane.Config
	profile    string
	configPath string
	logLevel   string
	logFormat  string
	version    bool
	dev        bool
	devIntake  string
	dataDirSet bool
}

// parseSettings builds the settings from args and the environment. It is called at start and
// again on every reload, so a reload sees the same layers.
func parseSettings(args []string, stderr io.Writer, env func(string) (string, bool)) (settings, error) {
	var s settings
	cfg := &s.cfg
	*cfg = controlplane.DefaultConfig()
	fs := flag.NewFlagSet("controlplane", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		io.WriteString(stderr, usage)
		fs.PrintDefaults()
	}
	s.otlp.Register(fs)
	fs.StringVar(&s.configPath, "config", "", "YAML configuration file; the environment and flags override it")
	fs.StringVar(&s.profile, "profile", "", "defaults to start from: development, staging or production (default: the file's profile key, else production)")
	fs.BoolVar(&s.dev, "dev", false, "development mode: also run an agent for this host, data in ./"+devDataDir+" unless --data-dir is set")
	fs.StringVar(&s.devIntake, "dev-intake-listen", intake.DefaultListen, "with --dev: the local agent's request intake address")
	fs.StringVar(&s.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&s.logFormat, "log-format", "text", "log format: text (logfmt) or json")
	fs.BoolVar(&s.version, "version", false, "print the version and exit")
	fs.StringVar(&cfg.GRPCListen, "grpc-listen", cfg.GRPCListen, "gRPC listen address (agents and admin API)")
	fs.StringVar(&cfg.HTTPListen, "http-listen", cfg.HTTPListen, "HTTP listen address for /healthz, /readyz and /metrics")
	fs.StringVar(&cfg.DataDir, "data-dir", cfg.DataDir, "directory holding fleet.db")
	fs.DurationVar(&cfg.NodeTTL, "node-ttl", cfg.NodeTTL, "report silence before a node is down; 0 means 3 × each agent's interval")
	fs.DurationVar(&cfg.TTLGrace, "ttl-grace", cfg.TTLGrace, "grace added to the node TTL before a node is declared down")
	fs.DurationVar(&cfg.FailoverTTL, "failover-ttl", cfg.FailoverTTL, "least time every known node gets after a restart before it may be declared down")
	fs.DurationVar(&cfg.LivenessCheck, "liveness-check", cfg.LivenessCheck, "how often silent nodes are looked for")
	registerNodeGCFlags(fs, cfg)
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
	alerts.AlertFlags(fs, &cfg.Alerts)
	fs.Float64Var(&cfg.BudgetColdRequestUSD, "budget-cold-request-usd", cfg.BudgetColdRequestUSD, "what a routed request is taken to cost at a hard budget while nothing predicts it yet (USD)")
	fs.StringVar(&cfg.ScalingHookDir, "scaling-hook-dir", cfg.ScalingHookDir, "directory of the programs scaling policies may run as exec hooks; empty allows none")
	registerSecurityFlags(fs, cfg)
	err := cli.Parse(fs, args, cli.Sources{
		ConfigPath: &s.configPath,
		Profile:    &s.profile,
		Env:        env,
		Defaults: func(profile string) {
			*cfg = controlplane.ProfileConfig(profile)
			s.logLevel = cli.ProfileLogLevel(profile)
		},
		Read: func(path string) (string, func() error, error) {
			f, err := controlplane.ReadFile(path)
			if err != nil {
				return "", nil, err
			}
			return f.Profile(), func() error {
				if err := f.Check(*cfg); err != nil {
					return err
				}
				f.Apply(cfg)
				if l := f.LogLevel(); l != "" {
					s.logLevel = l
				}
				return nil
			}, nil
		},
	})
	if err != nil {
		return settings{}, err
	}
	fs.Visit(func(f *flag.Flag) { s.dataDirSet = s.dataDirSet || f.Name == "data-dir" })
	if s.dev && !s.dataDirSet && s.configPath == "" {
		cfg.DataDir = devDataDir
	}
	if err := tokensFromEnv(cfg, env); err != nil {
		return settings{}, err
	}
	if s.dev {
		if err := devSettings(cfg); err != nil {
			return settings{}, err
		}
	}
	return s, nil
}

const usage = `Usage:
  controlplane [flags]                                 run the control plane
  controlplane validate --config FILE [--profile NAME] check a config file without starting
  controlplane unbind-node --data-dir DIR [NODE...]     list node bindings, or remove them (stopped)

Settings come from, lowest first: the profile's defaults, the --config file, the environment
(DSPYFLEET_<FLAG>, e.g. DSPYFLEET_NODE_TTL=30s) and the flags. SIGHUP reloads them.

Flags:
`
