// Package command owns the vocabulary of pushed commands: the kinds the control plane may name,
// their typed parameters, and the validation both ends apply. It holds no behaviour: the agent
// maps each kind to an action configured on its own host, and a parameter can never carry a
// command line.
package command

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Kind names an action.
type Kind string

// The kinds of command.
const (
	Drain   Kind = "drain"
	Undrain Kind = "undrain"
	Restart Kind = "restart"
	Cleanup Kind = "cleanup"
	Backup  Kind = "backup"
	Deploy  Kind = "deploy"
	Scale   Kind = "scale"
	Custom  Kind = "custom"
)

// Parameter names.
const (
	ParamTimeout   = "timeout"   // drain, restart: longest wait for in-flight requests, a Go duration
	ParamDryRun    = "dry_run"   // cleanup: "true" reports without deleting
	ParamVersion   = "version"   // deploy: the version to run
	ParamInstances = "instances" // scale: the number of instances, 0..MaxInstances
	ParamAction    = "action"    // custom: the name of an action configured on the agent

	// FieldBackupKept is the backup outcome's field listing, one per line, every archive in the
	// agent's backup directory once the new one was written and the old ones pruned.
	FieldBackupKept = "kept"
)

// MaxInstances bounds a scale command.
const MaxInstances = 1024

// MaxDrainTimeout bounds a drain's wait.
const MaxDrainTimeout = 24 * time.Hour

// ErrInvalid marks every validation error of this package.
var ErrInvalid = errors.New("invalid command")

var (
	versionPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$`)
	actionPattern  = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
)

// param describes one parameter of a kind.
type param struct {
	required bool
	check    func(string) error
}

var params = map[Kind]map[string]param{
	Drain:   {ParamTimeout: {check: checkDrainTimeout}},
	Undrain: {},
	Restart: {ParamTimeout: {check: checkDrainTimeout}},
	Cleanup: {ParamDryRun: {check: checkBool}},
	Backup:  {},
	Deploy:  {ParamVersion: {required: true, check: ValidVersion}},
	Scale:   {ParamInstances: {required: true, check: checkInstances}},
	Custom:  {ParamAction: {required: true, check: ValidActionName}},
}

// Kinds returns every kind, sorted.
func Kinds() []Kind {
	return slices.Sorted(maps.Keys(params))
}

// Validate checks a kind and its parameters, naming each bad field.
func Validate(kind Kind, p map[string]string) error {
	spec, ok := params[kind]
	if !ok {
		return fmt.Errorf("%w: kind %q is not one of %v", ErrInvalid, kind, Kinds())
	}
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(p)) {
		ps, ok := spec[name]
		if !ok {
			errs = append(errs, fmt.Errorf("%w: params.%s: %s takes no parameter %q", ErrInvalid, name, kind, name))
			continue
		}
		if err := ps.check(p[name]); err != nil {
			errs = append(errs, fmt.Errorf("%w: params.%s: %v", ErrInvalid, name, err))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(spec)) {
		if _, given := p[name]; spec[name].required && !given {
			errs = append(errs, fmt.Errorf("%w: params.%s is required for %s", ErrInvalid, name, kind))
		}
	}
	return errors.Join(errs...)
}

// ValidVersion accepts 1-128 letters, digits, '.', '_', '+' or '-', starting with a letter or
// digit: enough for semver and image tags, never a shell word or a path.
func ValidVersion(v string) error {
	if !versionPattern.MatchString(v) {
		return fmt.Errorf("version %q must be 1-128 letters, digits, '.', '_', '+' or '-', starting with a letter or digit", truncate(v))
	}
	return nil
}

// ValidActionName accepts 1-63 lower-case letters, digits, '_' or '-', starting with a letter
// or digit: the name of an action the agent's configuration defines, never a command line.
func ValidActionName(name string) error {
	if !actionPattern.MatchString(name) {
		return fmt.Errorf("action %q must be 1-63 lower-case letters, digits, '_' or '-', starting with a letter or digit", truncate(name))
	}
	return nil
}

// DrainTimeout returns the drain timeout parameter, or def when it is absent.
func DrainTimeout(p map[string]string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(p[ParamTimeout]); err == nil {
		return d
	}
	return def
}

// DryRun reports whether the cleanup dry_run parameter is set.
func DryRun(p map[string]string) bool {
	b, _ := strconv.ParseBool(p[ParamDryRun])
	return b
}

// Instances returns the scale instances parameter.
func Instances(p map[string]string) (int, error) {
	n, err := strconv.Atoi(p[ParamInstances])
	if err != nil {
		return 0, fmt.Errorf("%w: params.instances: %v", ErrInvalid, err)
	}
	return n, checkInstances(p[ParamInstances])
}

func checkDrainTimeout(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration like 5m or 30s", truncate(s))
	}
	if d <= 0 || d > MaxDrainTimeout {
		return fmt.Errorf("%s must be positive and at most %s", d, MaxDrainTimeout)
	}
	return nil
}

func checkBool(s string) error {
	if _, err := strconv.ParseBool(s); err != nil {
		return fmt.Errorf("%q is not true or false", truncate(s))
	}
	return nil
}

func checkInstances(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("%q is not a whole number", truncate(s))
	}
	if n < 0 || n > MaxInstances {
		return fmt.Errorf("%d must be between 0 and %d", n, MaxInstances)
	}
	return nil
}

func truncate(s string) string {
	if len(s) <= 64 {
		return s
	}
	return s[:64] + "…"
}

// IDLen is the length of a command id: 16 bytes (the big-endian unix nanoseconds of its creation,
// then 8 random bytes) in lower-case hex.
const IDLen = 32

// ValidID checks a command id: exactly IDLen lower-case hex digits; the error says what is wrong
// for the caller to prefix with the field's name. An id keys the command in
// the control plane's store and in the agent's, so an empty or odd one is refused at every door.
func ValidID(id string) error {
	if len(id) != IDLen || strings.IndexFunc(id, func(r rune) bool { return (r < '0' || r > '9') && (r < 'a' || r > 'f') }) >= 0 {
		if id == "" {
			return fmt.Errorf("is empty; a command id is %d lower-case hex digits", IDLen)
		}
		return fmt.Errorf("%q must be %d lower-case hex digits", truncate(id), IDLen)
	}
	return nil
}
