package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dspyfleet/dspyfleet/agent/action/backup"
	"github.com/dspyfleet/dspyfleet/agent/action/cleanup"
	"github.com/dspyfleet/dspyfleet/agent/service"
	"github.com/dspyfleet/dspyfleet/agent/service/systemd"
	"github.com/dspyfleet/dspyfleet/pkg/command"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// ActionsConfig says what this host does for each command kind. Everything that runs, and
// every path that is touched, comes from here; a command only picks the action and its typed
// parameters. A kind left unconfigured is refused with a clear reason.
type ActionsConfig struct {
	// Service is the DSPy service that restart and scale act on.
	Service *ServiceConfig `yaml:"service"`
	// Cleanup lists the roots cleanup may delete from.
	Cleanup []CleanupRule `yaml:"cleanup"`
	// Backup names what backup archives and where.
	Backup *BackupConfig `yaml:"backup"`
	// Deploy runs a hook with the requested version.
	Deploy *DeployConfig `yaml:"deploy"`
	// Custom names actions a custom command (or a maintenance window) may run, by name.
	Custom map[string]CustomAction `yaml:"custom"`
}

// CustomAction is a command this host runs when the control plane names it.
type CustomAction struct {
	Command []string      `yaml:"command"`
	Timeout time.Duration `yaml:"timeout"`
}

// ServiceConfig chooses the service manager.
type ServiceConfig struct {
	// Manager is "process" (the agent supervises the command) or "systemd".
	Manager string `yaml:"manager"`
	// Command is the argv of one instance for the process manager; "{port}" is replaced.
	Command []string `yaml:"command"`
	// Dir and Env are the process manager's working directory and extra KEY=VALUE entries.
	Dir string   `yaml:"dir"`
	Env []string `yaml:"env"`
	// Instances is the process manager's initial instance count.
	Instances int `yaml:"instances"`
	// Unit or TemplateUnit name the systemd unit(s).
	Unit         string `yaml:"unit"`
	TemplateUnit string `yaml:"template_unit"`
	// BasePort is instance 0's port; instance i uses BasePort+i.
	BasePort int `yaml:"base_port"`
	// StopGrace is the wait between SIGTERM and SIGKILL (process manager).
	StopGrace time.Duration `yaml:"stop_grace"`
	// Health decides when a (re)started instance is up.
	Health HealthConfig `yaml:"health"`
}

// HealthConfig is an HTTP or TCP health check; "{port}" is replaced by the instance's port.
type HealthConfig struct {
	URL     string        `yaml:"url"`
	TCP     string        `yaml:"tcp"`
	Timeout time.Duration `yaml:"timeout"`
}

// CleanupRule is one root cleanup may delete from.
type CleanupRule struct {
	Root     string        `yaml:"root"`
	Patterns []string      `yaml:"patterns"`
	MaxAge   time.Duration `yaml:"max_age"`
	MaxBytes int64         `yaml:"max_bytes"`
}

// BackupConfig names the paths to archive, where, and how many archives to keep.
type BackupConfig struct {
	Paths  []string `yaml:"paths"`
	Dir    string   `yaml:"dir"`
	Keep   int      `yaml:"keep"`
	Prefix string   `yaml:"prefix"`
}

// DeployConfig is the deploy hook; the version is appended as its last argument.
type DeployConfig struct {
	Hook    []string      `yaml:"hook"`
	Timeout time.Duration `yaml:"timeout"`
}

func (h HealthConfig) check() service.HealthCheck {
	return service.HealthCheck{URL: h.URL, TCP: h.TCP, Timeout: h.Timeout}
}

func (c CleanupRule) rule() cleanup.Rule {
	return cleanup.Rule{Root: c.Root, Patterns: c.Patterns, MaxAge: c.MaxAge, MaxBytes: c.MaxBytes}
}

// builtActions are the configured actions and the service manager to run beside the agent.
type builtActions struct {
	actions map[command.Kind]Action
	manager service.Manager
	closers []func()
}

// buildActions validates the configuration and builds one Action per configured kind; the
// process manager keeps its pid files in stateDir ("" keeps none).
func buildActions(ctx context.Context, cfg ActionsConfig, stateDir string, log *slog.Logger) (*builtActions, error) {
	b := &builtActions{actions: map[command.Kind]Action{}}
	var errs []error
	if s := cfg.Service; s != nil {
		m, closer, err := newManager(ctx, *s, stateDir, log)
		if err != nil {
			errs = append(errs, fmt.Errorf("actions.service: %w", err))
		} else {
			b.manager = m
			if closer != nil {
				b.closers = append(b.closers, closer)
			}
			b.actions[command.Restart] = ActionFunc(func(ctx context.Context, _ *fleetv1.Command) (Outcome, error) {
				return outcome(m.Restart(ctx))
			})
			b.actions[command.Scale] = ActionFunc(func(ctx context.Context, cmd *fleetv1.Command) (Outcome, error) {
				n, err := command.Instances(cmd.GetParams())
				if err != nil {
					return Outcome{}, err
				}
				return outcome(m.Scale(ctx, n))
			})
		}
	}
	host, err := hostActions(cfg)
	if err != nil {
		errs = append(errs, err)
	}
	maps.Copy(b.actions, host)
	if err := errors.Join(errs...); err != nil {
		b.close()
		return nil, err
	}
	return b, nil
}

// hostActions builds the cleanup, backup and deploy actions: they hold no state between
// commands, so a reload can replace them.
func hostActions(cfg ActionsConfig) (map[command.Kind]Action, error) {
	acts := map[command.Kind]Action{}
	var errs []error
	if len(cfg.Cleanup) > 0 {
		rules := make([]cleanup.Rule, len(cfg.Cleanup))
		for i, r := range cfg.Cleanup {
			rules[i] = r.rule()
		}
		if err := cleanup.Validate(rules); err != nil {
			errs = append(errs, fmt.Errorf("actions.cleanup: %w", err))
		}
		acts[command.Cleanup] = ActionFunc(func(ctx context.Context, cmd *fleetv1.Command) (Outcome, error) {
			res, err := cleanup.Run(ctx, rules, time.Now(), command.DryRun(cmd.GetParams()))
			if err != nil {
				return Outcome{}, err
			}
			return Outcome{Detail: res.Detail(), Fields: map[string]string{
				"files": strconv.Itoa(res.Files), "bytes_freed": strconv.FormatInt(res.Bytes, 10),
				"dry_run": strconv.FormatBool(res.DryRun), "errors": strconv.Itoa(len(res.Errors)),
			}}, nil
		})
	}
	if bc := cfg.Backup; bc != nil {
		c := bc.config()
		if err := c.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("actions.backup: %w", err))
		}
		acts[command.Backup] = ActionFunc(func(ctx context.Context, _ *fleetv1.Command) (Outcome, error) {
			a, err := backup.Create(ctx, c, time.Now())
			if err != nil && a.Path == "" {
				return Outcome{}, err
			}
			out := Outcome{Detail: a.Detail(), Fields: map[string]string{
				"archive": a.Path, "sha256": a.SHA256, "bytes": strconv.FormatInt(a.Size, 10), "files": strconv.Itoa(a.Files),
			}}
			if err != nil {
				out.Detail += "; " + err.Error()
			}
			// The archives left after pruning, so the control plane lists only those.
			if left, lerr := backup.List(c.Dir, c.Prefix); lerr == nil {
				paths := make([]string, len(left))
				for i, l := range left {
					paths[i] = l.Path
				}
				out.Fields[command.FieldBackupKept] = strings.Join(paths, "\n")
			}
			return out, nil
		})
	}
	if cfg.Deploy != nil {
		d, port := cfg.deployConfig()
		if err := d.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("actions.deploy: %w", err))
		}
		acts[command.Deploy] = ActionFunc(func(ctx context.Context, cmd *fleetv1.Command) (Outcome, error) {
			return outcome(service.Deploy(ctx, d, cmd.GetParams()[command.ParamVersion], port))
		})
	}
	if len(cfg.Custom) > 0 {
		hooks := make(map[string]service.Hook, len(cfg.Custom))
		for _, name := range slices.Sorted(maps.Keys(cfg.Custom)) {
			h := service.Hook{Command: cfg.Custom[name].Command, Timeout: cfg.Custom[name].Timeout}
			if err := command.ValidActionName(name); err != nil {
				errs = append(errs, fmt.Errorf("actions.custom: %w", err))
			} else if err := h.Validate(); err != nil {
				errs = append(errs, fmt.Errorf("actions.custom.%s: %w", name, err))
			}
			hooks[name] = h
		}
		acts[command.Custom] = ActionFunc(func(ctx context.Context, cmd *fleetv1.Command) (Outcome, error) {
			name := cmd.GetParams()[command.ParamAction]
			h, ok := hooks[name]
			if !ok {
				return Outcome{}, fmt.Errorf("no custom action %q is configured on this host (configured: %s)", name, strings.Join(slices.Sorted(maps.Keys(hooks)), ", "))
			}
			return outcome(h.RunRecorded(ctx, runRecordFrom(ctx)))
		})
	}
	return acts, errors.Join(errs...)
}

// newManager builds the configured service manager.
func newManager(ctx context.Context, s ServiceConfig, stateDir string, log *slog.Logger) (service.Manager, func(), error) {
	switch s.Manager {
	case "process":
		m, err := service.NewProcessManager(s.processConfig(stateDir), log.With("manager", "process"))
		return m, nil, err
	case "systemd":
		conn, err := systemd.DialDBus(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("manager systemd: %w", err)
		}
		m, err := systemd.New(s.systemdConfig(), conn, log.With("manager", "systemd"))
		if err != nil {
			conn.Close()
			return nil, nil, err
		}
		return m, conn.Close, nil
	}
	return nil, nil, fmt.Errorf("manager %q must be process or systemd", s.Manager)
}

// outcome converts a service result.
func outcome(r service.Result, err error) (Outcome, error) {
	if err != nil {
		return Outcome{}, err
	}
	return Outcome{Detail: r.Detail, Fields: r.Fields}, nil
}

func (b *builtActions) close() {
	for _, c := range b.closers {
		c()
	}
}
