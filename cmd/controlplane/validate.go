package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/dspyfleet/dspyfleet/controlplane"
	"github.com/dspyfleet/dspyfleet/internal/cli"
)

// runValidate checks a config file without starting: strict parsing, then every value over the
// profile's defaults. The environment and other flags are not consulted.
func runValidate(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("controlplane validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "the YAML configuration file to check")
	profile := fs.String("profile", "", "the profile whose defaults the file is checked over (default: the file's profile key)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 || *path == "" {
		return errors.New("usage: controlplane validate --config FILE [--profile NAME]")
	}
	f, err := controlplane.ReadFile(*path)
	if err != nil {
		return err
	}
	p := *profile
	if err := cli.CheckProfile(p); err != nil {
		return fmt.Errorf("--profile: %w", err)
	}
	if p == "" && cli.CheckProfile(f.Profile()) == nil {
		p = f.Profile() // a wrong profile key is reported with its line by Check
	}
	if err := f.Check(controlplane.ProfileConfig(p)); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: valid\n", *path)
	return nil
}
