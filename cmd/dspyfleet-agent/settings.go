package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/dspyfleet/dspyfleet/agent"
	"github.com/dspyfleet/dspyfleet/agent/intake"
	"github.com/dspyfleet/dspyfleet/internal/cli"
	"github.com/dspyfleet/dspyfleet/internal/credential"
	"github.com/dspyfleet/dspyfleet/internal/tracing"
)

// settings are the command's settings after layering profile, file, environment and flags.
type settings struct {
	otlp       tracing.Flags
	cfg        agent.Config
	profile    string
	configPath string
	logLevel   string
	logFormat  string
	version    bool
}

// pathFlags collects repeated path flags; flags are parsed twice (before and after the config
// file), so a path given again is kept once.
type pathFlags []string

func (p *pathFlags) String() string { return strings.Join(*p, ",") }

func (p *pathFlags) Set(s string) error {
	if s == "" {
		return errors.New("path is empty")
	}
	if !slices.Contains(*p, s) {
		*p = append(*p, s)
	}
	return nil
}

// labelFlags collects repeated --label k=v flags.
type labelFlags map[string]string

func (l labelFlags) String() string { return "" }

func (l labelFlags) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("label %q must look like key=value", s)
	}
	l[k] = v
	return nil
}

// tokenEnv names the environment variable holding the agent token itself; --token-file (or
// DSPYFLEET_TOKEN_FILE) wins over it.
const tokenEnv = "DSPYFLEET_AGENT_TOKEN"

// parseSettings builds the settings from args and the environment. It is called at start and
// again on every reload, so a reload sees the same layers.
func parseSettings(args []string, stderr io.Writer, env func(string) (string, bool)) (settings, error) {
	var s settings
	cfg := &s.cfg
	*cfg = agent.DefaultConfig()
	labels := labelFlags{}
	var logFiles, watchFiles, journalUnits pathFlags
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		io.WriteString(stderr, usage)
		fs.PrintDefaults()
	}
	s.otlp.Register(fs)
	fs.StringVar(&s.configPath, "config", "", "YAML configuration file; the environment and flags override it")
	fs.StringVar(&s.profile, "profile", "", "defaults to start from: development, staging or production (default: the file's profile key, else production)")
	fs.StringVar(&s.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&s.logFormat, "log-format", "text", "log format: text (logfmt) or json")
	fs.BoolVar(&s.version, "version", false, "print the version and exit")
	fs.StringVar(&cfg.Server, "server", cfg.Server, "control plane gRPC address (env DSPYFLEET_SERVER or DSPYFLEET_ADDR)")
	fs.StringVar(&cfg.NodeID, "node-id", cfg.NodeID, "node id (default: the host name)")
	fs.StringVar(&cfg.Pool, "pool", cfg.Pool, "pool this node serves")
	fs.Var(labels, "label", "node label key=value (repeatable)")
	fs.Float64Var(&cfg.Weight, "weight", cfg.Weight, "relative capacity for weighted routing")
	fs.Float64Var(&cfg.HourlyPrice, "hourly-price", cfg.HourlyPrice, "host price per hour in USD")
	fs.StringVar(&cfg.InstanceType, "instance-type", cfg.InstanceType, "instance type name for the cost model")
	fs.StringVar(&cfg.CapacityType, "capacity-type", cfg.CapacityType, "how the host is bought: on_demand, spot or reserved (default: read from --cloud's metadata service)")
	fs.StringVar(&cfg.Cloud, "cloud", cfg.Cloud, "watch this cloud's metadata service for interruption notices and read the capacity type from it: ec2, gce or azure")
	fs.StringVar(&cfg.MetadataURL, "metadata-url", cfg.MetadataURL, "base URL of the --cloud metadata service (default: the cloud's own)")
	fs.DurationVar(&cfg.MetadataInterval, "metadata-interval", cfg.MetadataInterval, "how often the metadata service is polled for a notice (default 5s)")
	fs.DurationVar(&cfg.TermNotice, "term-notice", cfg.TermNotice, "on SIGTERM, report an interruption and let in-flight requests finish for up to this long before stopping (0: stop at once)")
	fs.StringVar(&cfg.AdvertiseAddr, "advertise-addr", cfg.AdvertiseAddr, "host:port clients send this node DSPy requests to, handed out by routing (default: the --proxy-listen address)")
	fs.DurationVar(&cfg.Interval, "interval", cfg.Interval, "report interval (1s and up recommended)")
	fs.StringVar(&cfg.StateDir, "state-dir", cfg.StateDir, "directory for the agent's local state")
	fs.IntVar(&cfg.BufferSize, "buffer-size", cfg.BufferSize, "reports kept while the control plane is unreachable")
	fs.StringVar(&cfg.Intake.Listen, "intake-listen", intake.DefaultListen, `address of the local request intake (POST /v1/requests); "" disables it`)
	fs.StringVar(&cfg.Intake.Socket, "intake-socket", cfg.Intake.Socket, "also serve the request intake on this Unix socket")
	fs.StringVar(&cfg.MetricsListen, "metrics-listen", cfg.MetricsListen, `serve the agent's own Prometheus /metrics on this loopback host:port (e.g. 127.0.0.1:9105); "" (the default) serves none`)
	fs.StringVar(&cfg.Proxy.Listen, "proxy-listen", cfg.Proxy.Listen, "sidecar mode: listen here and proxy to --proxy-upstream, measuring every request")
	fs.StringVar(&cfg.Proxy.Upstream, "proxy-upstream", cfg.Proxy.Upstream, "sidecar mode: the DSPy HTTP server (host:port or URL)")
	fs.IntVar(&cfg.Proxy.MaxConcurrency, "proxy-max-concurrency", cfg.Proxy.MaxConcurrency, "sidecar mode: requests let through to the upstream at once (its worker slots); the rest queue, and the queue is the node's queue_length (0: no limit, no queue)")
	fs.Var(&logFiles, "log-file", "log file of the DSPy service to follow and count per template (repeatable)")
	fs.Var(&journalUnits, "log-journal-unit", "systemd unit whose journal entries are followed and counted per template, like --log-file (repeatable)")
	fs.StringVar(&cfg.Logs.Journal.Directory, "log-journal-dir", cfg.Logs.Journal.Directory, "journal directory read instead of the system journal (journalctl --directory)")
	fs.BoolVar(&cfg.Logs.SampleErrors, "log-sample-errors", cfg.Logs.SampleErrors, "send the last few error lines of each log template with the counts (default: counts only)")
	fs.StringVar(&cfg.Security.AuthLog, "auth-log", cfg.Security.AuthLog, "auth log to count failed SSH and sudo logins in (e.g. /var/log/auth.log)")
	fs.BoolVar(&cfg.Security.AuthJournal, "auth-journal", cfg.Security.AuthJournal, "count failed SSH and sudo logins in the systemd journal (ssh.service, sshd.service, SYSLOG_IDENTIFIER=sudo)")
	fs.BoolVar(&cfg.Security.Listeners, "watch-listeners", cfg.Security.Listeners, "report TCP listening sockets that were not there at start")
	fs.Var(&watchFiles, "watch-file", "file whose sha256 is watched for changes (repeatable)")
	fs.StringVar(&cfg.TokenFile, "token-file", cfg.TokenFile, "file holding the agent token sent to the control plane (or the token in $"+tokenEnv+")")
	fs.BoolVar(&cfg.TLS, "tls", cfg.TLS, "connect over TLS, verifying the control plane against the system's CAs or --ca-file")
	fs.StringVar(&cfg.CAFile, "ca-file", cfg.CAFile, "PEM CA certificate the control plane's certificate must chain to (implies --tls)")
	fs.StringVar(&cfg.CertFile, "cert-file", cfg.CertFile, "PEM client certificate for mTLS, common name = node id; re-read when it changes (implies --tls)")
	fs.StringVar(&cfg.KeyFile, "key-file", cfg.KeyFile, "PEM private key of --cert-file")
	err := cli.Parse(fs, args, cli.Sources{
		ConfigPath: &s.configPath,
		Profile:    &s.profile,
		Env:        env,
		EnvAliases: map[string]string{"DSPYFLEET_ADDR": "server"},
		Defaults: func(profile string) {
			*cfg = profileConfig(profile)
			s.logLevel = cli.ProfileLogLevel(profile)
		},
		Read: func(path string) (string, func() error, error) {
			f, err := agent.ReadFile(path)
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
	if v, ok := env(tokenEnv); ok && v != "" {
		tok, err := credential.ParseToken([]byte(v))
		if err != nil {
			return settings{}, fmt.Errorf("$%s: %w", tokenEnv, err)
		}
		cfg.Token = tok
	}
	if len(labels) > 0 {
		if cfg.Labels == nil {
			cfg.Labels = map[string]string{}
		}
		maps.Copy(cfg.Labels, labels)
	}
	if len(logFiles) > 0 {
		cfg.Logs.Files = logFiles
	}
	if len(journalUnits) > 0 {
		cfg.Logs.Journal.Units = journalUnits
	}
	if len(watchFiles) > 0 {
		cfg.Security.Files = watchFiles
	}
	return s, nil
}

// profileConfig is the agent package's profile defaults with the command's intake default: the
// command listens on intake.DefaultListen unless told otherwise.
func profileConfig(profile string) agent.Config {
	c := agent.ProfileConfig(profile)
	c.Intake.Listen = intake.DefaultListen
	return c
}

const usage = `Usage:
  agent [flags]                                  run the agent
  agent validate --config FILE [--profile NAME]  check a config file (actions included) without starting
  agent backup list --config FILE                the backup action's archives
  agent backup verify ARCHIVE                    check one archive in full

Settings come from, lowest first: the profile's defaults, the --config file, the environment
(DSPYFLEET_<FLAG>, e.g. DSPYFLEET_SERVER=cp.internal:7070) and the flags. SIGHUP reloads them.

Flags:
`
