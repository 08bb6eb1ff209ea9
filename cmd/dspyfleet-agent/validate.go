package main

import (
	"io"

	"github.com/dspyfleet/dspyfleet/agent"
	"github.com/dspyfleet/dspyfleet/internal/cli"
)

// runValidate checks a config file without starting: strict parsing, then every value over the
// profile's defaults, the actions section included; then the token and certificate files it names
// are read (nothing is started and systemd is not contacted). The environment and other flags are
// not consulted.
func runValidate(args []string, stdout, stderr io.Writer) error {
	return cli.Validate[agent.Config, *agent.File]{
		Program:          "agent",
		ReadFile:         agent.ReadFile,
		ProfileConfig:    profileConfig,
		CheckCredentials: agent.CheckCredentials,
	}.Run(args, stdout, stderr)
}
