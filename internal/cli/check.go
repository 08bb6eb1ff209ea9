package cli

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// CheckFields finds which settings of a decoded config file (f, a struct of optional fields
// filled by DecodeYAML) are out of range. check validates a file holding only some of the
// settings over the defaults. Each setting is checked alone, so an error names the file, line and
// key of the value that causes it; an error only the settings together cause (one bound above
// another) names the file alone.
func CheckFields[T any](name string, lines Lines, f T, check func(T) error) error {
	if check(f) == nil {
		return nil
	}
	v := reflect.ValueOf(f)
	fields, _ := yamlFields(v.Type())
	type found struct {
		line int
		err  error
	}
	var bad []found
	for key, idx := range fields {
		if v.Field(idx).IsZero() {
			continue
		}
		var one T
		reflect.ValueOf(&one).Elem().Field(idx).Set(v.Field(idx))
		if err := check(one); err != nil {
			bad = append(bad, found{lines[key], fmt.Errorf("%s:%d: %s: %s", name, lines[key], key, oneLine(err))})
		}
	}
	if len(bad) == 0 {
		return fmt.Errorf("%s: %s", name, oneLine(check(f)))
	}
	slices.SortFunc(bad, func(a, b found) int { return a.line - b.line })
	errs := make([]error, len(bad))
	for i, b := range bad {
		errs[i] = b.err
	}
	return errors.Join(errs...)
}

// oneLine joins the lines of a joined error with "; ".
func oneLine(err error) string {
	return strings.ReplaceAll(err.Error(), "\n", "; ")
}
