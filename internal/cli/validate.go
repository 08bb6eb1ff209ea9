package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
)

// Validate is a daemon's "validate" subcommand over its configuration C and parsed config file
// F: it checks a config file without starting anything.
type Validate[C any, F ConfigFile[C]] struct {
	// Program is the daemon's command name, for the flag set and the usage message.
	Program string
	// ReadFile reads and strictly parses the config file at path.
	ReadFile func(path string) (F, error)
	// ProfileConfig returns the defaults of a profile ("" means none).
	ProfileConfig func(profile string) C
	// CheckCredentials reads the credential files a configuration names.
	CheckCredentials func(c C) error
}

// Run checks the file named by --config: strict parsing, then every value over the defaults of
// --profile (else the file's profile key), then the credential files the result names. It
// prints "FILE: valid" to stdout when all pass. The environment and other flags are not
// consulted.
func (v Validate[C, F]) Run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet(v.Program+" validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "the YAML configuration file to check")
	profile := fs.String("profile", "", "the profile whose defaults the file is checked over (default: the file's profile key)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 || *path == "" {
		return errors.New("usage: " + v.Program + " validate --config FILE [--profile NAME]")
	}
	f, err := v.ReadFile(*path)
	if err != nil {
		return err
	}
	p := *profile
	if err := CheckProfile(p); err != nil {
		return fmt.Errorf("--profile: %w", err)
	}
	if p == "" && CheckProfile(f.Profile()) == nil {
		p = f.Profile() // a wrong profile key is reported with its line by Check
	}
	cfg := v.ProfileConfig(p)
	if err := f.Check(cfg); err != nil {
		return err
	}
	f.Apply(&cfg)
	if err := v.CheckCredentials(cfg); err != nil {
		return fmt.Errorf("%s: %w", *path, err)
	}
	fmt.Fprintf(stdout, "%s: valid\n", *path)
	return nil
}
