// Package check holds what every control-plane subsystem shares to refuse bad input: the
// sentinel errors the API edge maps to gRPC codes, Invalidf for an InvalidArgument with a reason,
// field violations, and the rules for ids, pool names and echoed values.
package check
