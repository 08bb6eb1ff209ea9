package cost

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalid is wrapped by every validation error of this package.
var ErrInvalid = errors.New("invalid")

// FieldError names one bad field, e.g. "instances[m7i.large].spot_hourly".
type FieldError struct {
	Field   string
	Message string
}

// Error returns "field: message".
func (e FieldError) Error() string { return e.Field + ": " + e.Message }

// FieldErrors is every bad field of one value, in a stable order.
type FieldErrors []FieldError

// Error lists the fields, separated by "; ".
func (es FieldErrors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}

// Unwrap lets errors.Is(err, ErrInvalid) match.
func (es FieldErrors) Unwrap() error { return ErrInvalid }

// orNil returns es as an error, nil when it is empty.
func (es FieldErrors) orNil() error {
	if len(es) == 0 {
		return nil
	}
	return es
}

// add appends one bad field.
func (es *FieldErrors) add(field, format string, args ...any) {
	*es = append(*es, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}
