package main

import (
	"io"

	"github.com/dspyfleet/dspyfleet/controlplane"
	"github.com/dspyfleet/dspyfleet/internal/cli"
)

// runValidate checks a config file without starting: strict parsing, then every value over the
// profile's defaults; then the token, certificate and CA files it names are read. The
// environment and other flags are not consulted.
func runValidate(args []string, stdout, stderr io.Writer) error {
	return cli.Validate[controlplane.Config, *controlplane.File]{
		Program:          "controlplane",
		ReadFile:         controlplane.ReadFile,
		ProfileConfig:    controlplane.ProfileConfig,
		CheckCredentials: controlplane.CheckCredentials,
	}.Run(args, stdout, stderr)
}
