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
	"strings"
	"syscall"

	"github.com/dspyfleet/dspyfleet/agent"
	"github.com/dspyfleet/dspyfleet/agent/intake"
	"github.com/dspyfleet/dspyfleet/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	if len(os.Args) > 1 && os.Args[1] == "backup" {
		err = runBackup(os.Args[2:], os.Stdout, os.Stderr)
	} else {
		err = run(ctx, os.Args[1:], os.Stderr)
	}
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "agent:", err)
		os.Exit(1)
	}
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

func run(ctx context.Context, args []string, stderr io.Writer) error {
	cfg := agent.DefaultConfig()
	if addr := os.Getenv("DSPYFLEET_ADDR"); addr != "" {
		cfg.Server = addr
	}
	labels := labelFlags{}
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "YAML configuration file; flags given on the command line override it")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&cfg.Server, "server", cfg.Server, "control plane gRPC address (env DSPYFLEET_ADDR)")
	fs.StringVar(&cfg.NodeID, "node-id", cfg.NodeID, "node id (default: the host name)")
	fs.StringVar(&cfg.Pool, "pool", cfg.Pool, "pool this node serves")
	fs.Var(labels, "label", "node label key=value (repeatable)")
	fs.Float64Var(&cfg.Weight, "weight", cfg.Weight, "relative capacity for weighted routing")
	fs.Float64Var(&cfg.HourlyPrice, "hourly-price", cfg.HourlyPrice, "host price per hour in USD")
	fs.StringVar(&cfg.InstanceType, "instance-type", cfg.InstanceType, "instance type name for the cost model")
	fs.StringVar(&cfg.AdvertiseAddr, "advertise-addr", cfg.AdvertiseAddr, "host:port clients send this node DSPy requests to, handed out by routing (default: the --proxy-listen address)")
	fs.DurationVar(&cfg.Interval, "interval", cfg.Interval, "report interval (1s and up recommended)")
	fs.StringVar(&cfg.StateDir, "state-dir", cfg.StateDir, "directory for the agent's local state")
	fs.IntVar(&cfg.BufferSize, "buffer-size", cfg.BufferSize, "reports kept while the control plane is unreachable")
	cfg.Intake.Listen = intake.DefaultListen
	fs.StringVar(&cfg.Intake.Listen, "intake-listen", cfg.Intake.Listen, `address of the local request intake (POST /v1/requests); "" disables it`)
	fs.StringVar(&cfg.Intake.Socket, "intake-socket", cfg.Intake.Socket, "also serve the request intake on this Unix socket")
	fs.StringVar(&cfg.Proxy.Listen, "proxy-listen", cfg.Proxy.Listen, "sidecar mode: listen here and proxy to --proxy-upstream, measuring every request")
	fs.StringVar(&cfg.Proxy.Upstream, "proxy-upstream", cfg.Proxy.Upstream, "sidecar mode: the DSPy HTTP server (host:port or URL)")
	if err := cli.Parse(fs, args, configPath, func(path string) error { return agent.LoadFile(path, &cfg) }); err != nil {
		return err
	}
	if len(labels) > 0 {
		if cfg.Labels == nil {
			cfg.Labels = map[string]string{}
		}
		for k, v := range labels {
			cfg.Labels[k] = v
		}
	}
	log, err := cli.Logger(*logLevel, stderr)
	if err != nil {
		return err
	}
	cfg.Logger = log
	a, err := agent.New(cfg)
	if err != nil {
		return err
	}
	cfg.Logger.Info("agent starting", "node", a.NodeID(), "server", cfg.Server, "interval", cfg.Interval)
	return a.Run(ctx)
}
