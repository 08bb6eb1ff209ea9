package agent

import (
	"errors"
	"fmt"

	"github.com/dspyfleet/dspyfleet/agent/action/backup"
	"github.com/dspyfleet/dspyfleet/agent/action/cleanup"
	"github.com/dspyfleet/dspyfleet/agent/service"
	"github.com/dspyfleet/dspyfleet/agent/service/systemd"
)

// Validate reports every invalid setting of the actions, each naming its section, without
// building anything: no process starts and no D-Bus connection is made.
func (c ActionsConfig) Validate() error {
	var errs []error
	for _, p := range c.problems() {
		errs = append(errs, fmt.Errorf("actions.%s: %w", p.section, p.err))
	}
	return errors.Join(errs...)
}

// sectionProblem is what is wrong with one section of the actions.
type sectionProblem struct {
	section string // service, cleanup, backup or deploy
	err     error
}

// problems checks each configured section, in the order of the file format.
func (c ActionsConfig) problems() []sectionProblem {
	var out []sectionProblem
	add := func(section string, err error) {
		if err != nil {
			out = append(out, sectionProblem{section, err})
		}
	}
	if s := c.Service; s != nil {
		switch s.Manager {
		case "process":
			add("service", s.processConfig("").Validate())
		case "systemd":
			add("service", s.systemdConfig().Validate())
		default:
			add("service", fmt.Errorf("manager %q must be process or systemd", s.Manager))
		}
	}
	if len(c.Cleanup) > 0 {
		rules := make([]cleanup.Rule, len(c.Cleanup))
		for i, r := range c.Cleanup {
			rules[i] = r.rule()
		}
		add("cleanup", cleanup.Validate(rules))
	}
	if b := c.Backup; b != nil {
		add("backup", b.config().Validate())
	}
	if c.Deploy != nil {
		d, _ := c.deployConfig()
		add("deploy", d.Validate())
	}
	return out
}

func (s ServiceConfig) processConfig(stateDir string) service.ProcessConfig {
	return service.ProcessConfig{
		Command: s.Command, Dir: s.Dir, Env: s.Env, Instances: s.Instances,
		BasePort: s.BasePort, StopGrace: s.StopGrace, Health: s.Health.check(), StateDir: stateDir,
	}
}

func (s ServiceConfig) systemdConfig() systemd.Config {
	return systemd.Config{Unit: s.Unit, TemplateUnit: s.TemplateUnit, BasePort: s.BasePort, Health: s.Health.check()}
}

func (b BackupConfig) config() backup.Config {
	return backup.Config{Paths: b.Paths, Dir: b.Dir, Keep: b.Keep, Prefix: b.Prefix}
}

// deployConfig is the deploy hook with the service's health check, and the port it checks.
func (c ActionsConfig) deployConfig() (service.DeployConfig, int) {
	port := 0
	var health service.HealthCheck
	if c.Service != nil {
		port, health = c.Service.BasePort, c.Service.Health.check()
	}
	return service.DeployConfig{Hook: c.Deploy.Hook, Timeout: c.Deploy.Timeout, Health: health}, port
}
