// Package cli holds what the dspyfleet daemons' commands share: flags layered over a config
// file, and the logger.
package cli

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
)

// Parse parses args into fs. When the --config flag (configPath) names a file, load applies it
// and args are parsed again, so flags given on the command line win over the file, which wins
// over the defaults. Positional arguments are refused.
func Parse(fs *flag.FlagSet, args []string, configPath *string, load func(path string) error) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q; see --help", fs.Args())
	}
	if *configPath == "" {
		return nil
	}
	if err := load(*configPath); err != nil {
		return err
	}
	return fs.Parse(args)
}

// Logger returns a text logger to w at the named level (debug, info, warn, error).
func Logger(level string, w io.Writer) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}
