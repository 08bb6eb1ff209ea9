package controlplane

import (
	"time"

	"github.com/dspyfleet/dspyfleet/controlplane/scaling"
	"github.com/dspyfleet/dspyfleet/internal/cli"
)

// ProfileConfig returns the defaults of an environment profile (cli.Development, cli.Staging or
// cli.Production). Production, and no profile, are DefaultConfig; staging keeps less history;
// development notices changes sooner and keeps a day of history.
func ProfileConfig(profile string) Config {
	c := DefaultConfig()
	switch profile {
	case cli.Development:
		c.ScalingDefaults = scaling.ScalingDefaults{Min: 1, Max: 3, CPUTarget: 80}
		c.TTLGrace = 2 * time.Second
		c.FailoverTTL = 15 * time.Second
		c.ReconcileInterval = 2 * time.Second
		c.CommandRetention = 24 * time.Hour
		c.RollupRetention = 24 * time.Hour
	case cli.Staging:
		c.ScalingDefaults = scaling.ScalingDefaults{Min: 2, Max: 6, CPUTarget: 70}
		c.FailoverTTL = 30 * time.Second
		c.CommandRetention = 3 * 24 * time.Hour
		c.RollupRetention = 7 * 24 * time.Hour
	}
	return c
}
