// Package maintenance owns the decisions of fleet maintenance as pure functions of a snapshot and
// a time: which control-plane backups the retention keeps, how a deployment (rolling, canary,
// blue-green) moves through a pool's nodes, whether a canary passes its analysis, and when a
// maintenance window may take the next node. It holds no I/O: the control plane gathers the
// snapshot, calls these functions and applies their result.
package maintenance
