// Package fleet owns the node registry: every known node with its state, its agent session and
// its last report, node liveness (disconnected at once, down after the TTL), the watch streams
// of node events, and the read-only views other subsystems take of the fleet (routing, scaling,
// shared copies) without reaching into the registry's lock.
package fleet
