package cli

import (
	"fmt"
	"log/slog"
)

// The environment profiles. Each daemon maps them to its own defaults; no profile means the
// production defaults.
const (
	Development = "development"
	Staging     = "staging"
	Production  = "production"
)

// CheckProfile reports whether name is a profile; "" (none) is allowed.
func CheckProfile(name string) error {
	switch name {
	case "", Development, Staging, Production:
		return nil
	}
	return fmt.Errorf("profile %q must be %s, %s or %s", name, Development, Staging, Production)
}

// ProfileLogLevel is the log level a profile starts with: debug for development, info otherwise.
func ProfileLogLevel(profile string) string {
	if profile == Development {
		return "debug"
	}
	return "info"
}

// ParseLevel parses a log level: debug, info, warn or error.
func ParseLevel(level string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return 0, fmt.Errorf("log level %q must be debug, info, warn or error", level)
	}
	return l, nil
}

// CheckLevel reports whether level is a log level; "" (unset) is allowed.
func CheckLevel(level string) error {
	if level == "" {
		return nil
	}
	_, err := ParseLevel(level)
	return err
}
