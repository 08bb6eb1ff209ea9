// Package logtest lets a test wait for what the code under test logs, instead of sleeping.
package logtest

import (
	"context"
	"log/slog"
)

// Handler hands every record logged to C. It never blocks the logger: a record that does not
// fit in C is dropped, so give C room for what the test expects.
type Handler struct{ C chan<- slog.Record }

// Enabled implements slog.Handler: every level is handed on.
func (h Handler) Enabled(context.Context, slog.Level) bool { return true }

// WithAttrs implements slog.Handler; the attributes are not kept.
func (h Handler) WithAttrs([]slog.Attr) slog.Handler { return h }

// WithGroup implements slog.Handler; the group is not kept.
func (h Handler) WithGroup(string) slog.Handler { return h }

// Handle implements slog.Handler.
func (h Handler) Handle(_ context.Context, r slog.Record) error {
	select {
	case h.C <- r.Clone():
	default:
	}
	return nil
}

// Attr returns the value of the record's attribute key as a string, "" when it has none.
func Attr(r slog.Record, key string) string {
	var v string
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == key {
			v = a.Value.String()
			return false
		}
		return true
	})
	return v
}
