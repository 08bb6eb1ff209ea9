package cli

import (
	"fmt"
	"os"
)

// File is a daemon's config file parsed strictly (see DecodeYAML) into T, the YAML form of the
// daemon's settings, whose optional fields are nil where the file leaves a key out.
type File[T any] struct {
	// Name is the file's name in errors.
	Name string
	// Lines is the line of every key the file sets.
	Lines Lines
	// Values are the settings the file sets.
	Values T
}

// ReadFile reads the config file at path and parses it (see ParseFile); a file that cannot be
// read is an error naming --config.
func ReadFile[T any](path string) (*File[T], error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--config: %w", err)
	}
	return ParseFile[T](path, data)
}

// ParseFile parses data, the config file called name, strictly into a T (see DecodeYAML).
func ParseFile[T any](name string, data []byte) (*File[T], error) {
	f := &File[T]{Name: name}
	lines, err := DecodeYAML(name, data, &f.Values)
	if err != nil {
		return nil, err
	}
	f.Lines = lines
	return f, nil
}

// Deref is the value v points to, or T's zero value when v is nil (a key the file leaves out).
func Deref[T any](v *T) T {
	if v == nil {
		var zero T
		return zero
	}
	return *v
}

// Set copies *v to *dst when the file sets v (v is not nil), so a key the file leaves out keeps
// the value dst already has.
func Set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// ConfigFile is a daemon's parsed config file over the daemon's configuration C.
type ConfigFile[C any] interface {
	// Profile is the profile the file names, "" when it names none.
	Profile() string
	// Check reports every value of the file that is out of range when applied over base (the
	// defaults of the file's profile), each naming the file, line and key.
	Check(base C) error
	// Apply sets the file's values on c.
	Apply(c *C)
}

// LoadFile reads the config file at path with read and applies it onto c. Ranges are not
// checked (see ConfigFile.Check).
func LoadFile[C any, F ConfigFile[C]](read func(path string) (F, error), path string, c *C) error {
	f, err := read(path)
	if err != nil {
		return err
	}
	f.Apply(c)
	return nil
}
