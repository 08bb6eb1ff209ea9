package check

import (
	"fmt"
	"regexp"
	"strings"

	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

const (
	// MaxStringLen bounds a free-text field an agent or a caller sends.
	MaxStringLen = 256
	// DefaultPool is the pool of a node that names none.
	DefaultPool = "default"
)

// idPattern is what node ids and pool names look like: usable as bbolt keys and Prometheus labels.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

// Violations collects field errors; a nil or empty list means valid.
type Violations []*fleetv1.FieldViolation

// Add records that field is wrong, and why.
func (v *Violations) Add(field, format string, args ...any) {
	*v = append(*v, &fleetv1.FieldViolation{Field: field, Description: fmt.Sprintf(format, args...)})
}

// String joins the violations into one actionable sentence.
func (v Violations) String() string {
	parts := make([]string, len(v))
	for i, f := range v {
		parts[i] = f.GetField() + ": " + f.GetDescription()
	}
	return strings.Join(parts, "; ")
}

// ValidID reports whether s is a valid node id or pool name.
func ValidID(s string) bool { return idPattern.MatchString(s) }

// Truncate shortens an echoed value so an error message stays readable.
func Truncate(s string) string {
	const n = 64
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
