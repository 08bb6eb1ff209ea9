package agent

import (
	"fmt"
	"slices"

	"github.com/dspyfleet/dspyfleet/pkg/command"
)

// hostKinds are the actions a reload replaces: they hold no state between commands.
var hostKinds = []command.Kind{command.Cleanup, command.Backup, command.Deploy}

// ReloadActions replaces the cleanup, backup and deploy actions with those of cfg; if any of
// them is invalid nothing changes. A command already running finishes with the
// action it started with; kinds set in Config.Actions by an embedding program keep theirs. The
// service section (restart, scale) is not reloaded: its manager supervises running instances.
func (a *Agent) ReloadActions(cfg ActionsConfig) error {
	acts, err := hostActions(cfg)
	if err != nil {
		return fmt.Errorf("reload actions: %w", err)
	}
	for k := range a.cfg.Actions {
		delete(acts, k)
	}
	a.cmds.replace(func(k command.Kind) bool {
		_, embedded := a.cfg.Actions[k]
		return slices.Contains(hostKinds, k) && !embedded
	}, acts)
	return nil
}

// action is the action for kind, nil when none is configured.
func (c *commander) action(kind command.Kind) Action {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.actions[kind]
}

// replace removes the actions whose kind drop selects and adds acts.
func (c *commander) replace(drop func(command.Kind) bool, acts map[command.Kind]Action) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.actions {
		if drop(k) {
			delete(c.actions, k)
		}
	}
	for k, act := range acts {
		c.actions[k] = act
	}
}
