// Package cli holds what the dspyfleet daemons' commands share: settings layered from profile
// defaults, a config file, the environment and flags; strict YAML config files whose errors name
// file, line and key; the validate subcommand that checks such a file; and the logger.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
)

// EnvPrefix starts the name of the environment variable of every flag: --node-ttl is
// DSPYFLEET_NODE_TTL.
const EnvPrefix = "DSPYFLEET_"

// EnvName is the environment variable that sets the flag called name.
func EnvName(flagName string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// Sources are the layers Parse puts under the command line.
type Sources struct {
	// ConfigPath and Profile are the variables of the --config and --profile flags.
	ConfigPath, Profile *string
	// Defaults sets every flag's variable to the named profile's defaults ("" means none).
	Defaults func(profile string)
	// Read parses the config file at path. It returns the profile the file names ("" if none)
	// and apply, which checks the file's values over the defaults then set and applies them.
	Read func(path string) (profile string, apply func() error, err error)
	// Env looks an environment variable up; nil means os.LookupEnv.
	Env func(name string) (string, bool)
	// EnvAliases names older environment variables and the flag each sets, below the flag's
	// own variable.
	EnvAliases map[string]string
}

// Parse sets fs's flags from, lowest first: the profile's defaults, the config file, the
// environment (DSPYFLEET_<FLAG>) and the command line. The profile is --profile, else
// DSPYFLEET_PROFILE, else the file's profile key. Positional arguments are refused.
func Parse(fs *flag.FlagSet, args []string, src Sources) error {
	if src.Env == nil {
		src.Env = os.LookupEnv
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q; see --help", fs.Args())
	}
	if err := applyEnv(fs, src); err != nil {
		return err
	}
	var fileProfile string
	apply := func() error { return nil }
	if *src.ConfigPath != "" {
		var err error
		if fileProfile, apply, err = src.Read(*src.ConfigPath); err != nil {
			return err
		}
	}
	profile := *src.Profile
	if profile == "" {
		profile = fileProfile
	}
	if err := CheckProfile(profile); err != nil {
		if *src.Profile != "" {
			return fmt.Errorf("--profile: %w", err)
		}
		profile = "" // the file's profile key is wrong: checking the file says where
	}
	src.Defaults(profile)
	if err := apply(); err != nil {
		return err
	}
	if err := applyEnv(fs, src); err != nil {
		return err
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	*src.Profile = profile
	return nil
}

// applyEnv sets every flag from its environment variable, if set.
func applyEnv(fs *flag.FlagSet, src Sources) error {
	var errs []error
	set := func(env, name string) {
		if v, ok := src.Env(env); ok {
			if err := fs.Set(name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: invalid value for --%s: %w", env, v, name, err))
			}
		}
	}
	for env, name := range src.EnvAliases {
		set(env, name)
	}
	fs.VisitAll(func(f *flag.Flag) { set(EnvName(f.Name), f.Name) })
	return errors.Join(errs...)
}

// Logger returns a logger to w in format ("json", else text: logfmt) whose level is held by
// level, so it can change while running.
func Logger(level *slog.LevelVar, format string, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// CheckLogFormat refuses a --log-format other than text or json.
func CheckLogFormat(format string) error {
	if format != "text" && format != "json" {
		return fmt.Errorf("--log-format: %q must be text or json", format)
	}
	return nil
}

// LevelVar parses a log level named by the --log-level flag into a LevelVar.
func LevelVar(level string) (*slog.LevelVar, error) {
	l, err := ParseLevel(level)
	if err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	v := new(slog.LevelVar)
	v.Set(l)
	return v, nil
}

// SplitList splits a comma-separated flag value into its items, trimmed, leaving out empty ones.
func SplitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}
