package agent

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dspyfleet/dspyfleet/internal/cli"
)

// File is a parsed agent configuration file.
type File struct{ file *cli.File[fileConfig] }

// ReadFile reads the YAML file at path and parses it strictly (see ParseFile).
func ReadFile(path string) (*File, error) { return newFile(cli.ReadFile[fileConfig](path)) }

// ParseFile parses a configuration file's data; name is the file's name in errors. An unknown
// key (at any depth, actions included), a key given twice or a value of the wrong type is an
// error naming the file, line and key, so a typo never silently falls back to a default.
func ParseFile(name string, data []byte) (*File, error) {
	return newFile(cli.ParseFile[fileConfig](name, data))
}

// newFile wraps a parsed file, or passes its error on.
func newFile(f *cli.File[fileConfig], err error) (*File, error) {
	if err != nil {
		return nil, err
	}
	return &File{f}, nil
}

// LoadFile parses the YAML file at path strictly (see ParseFile) and applies it onto c. Ranges
// are checked by File.Check, and by New.
func LoadFile(path string, c *Config) error { return cli.LoadFile(ReadFile, path, c) }

// Profile is the profile the file names, "" when it names none.
func (f *File) Profile() string { return cli.Deref(f.file.Values.Profile) }

// LogLevel is the log level the file sets, "" when it sets none.
func (f *File) LogLevel() string { return cli.Deref(f.file.Values.LogLevel) }

// Apply sets the file's values on c.
func (f *File) Apply(c *Config) { f.file.Values.apply(c) }

// Check reports every value of the file that is out of range when applied over base (the
// defaults of the file's profile), each naming the file, line and key; the actions are checked
// as New would, without starting or connecting to anything.
func (f *File) Check(base Config) error {
	name, lines := f.file.Name, f.file.Lines
	top := f.file.Values
	top.Actions = nil
	errs := []error{cli.CheckFields(name, lines, top, func(one fileConfig) error {
		c := base
		one.apply(&c)
		return errors.Join(CheckConfig(c), cli.CheckProfile(cli.Deref(one.Profile)), cli.CheckLevel(cli.Deref(one.LogLevel)))
	})}
	if a := f.file.Values.Actions; a != nil {
		for _, p := range a.problems() {
			key := "actions." + p.section
			errs = append(errs, fmt.Errorf("%s:%d: %s: %s", name, lines[key], key, strings.ReplaceAll(p.err.Error(), "\n", "; ")))
		}
	}
	return errors.Join(errs...)
}

// CheckConfig reports every setting of c that New would refuse, without binding, starting or
// connecting to anything.
func CheckConfig(c Config) error {
	errs := []error{c.Validate(), c.ActionsConfig.Validate()}
	if c.Intake.Listen != "" || c.Intake.Socket != "" {
		errs = append(errs, c.Intake.Validate())
	}
	if c.Proxy.Listen != "" {
		errs = append(errs, c.Proxy.Validate())
	}
	return errors.Join(errs...)
}

// ProfileConfig returns the defaults of an environment profile (cli.Development, cli.Staging or
// cli.Production). Production, staging and no profile are DefaultConfig; development reports
// every 2s and reconnects within 5s, so changes show at once.
func ProfileConfig(profile string) Config {
	c := DefaultConfig()
	if profile == cli.Development {
		c.Interval = 2 * time.Second
		c.BackoffMax = 5 * time.Second
	}
	return c
}
