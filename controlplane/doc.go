// Package controlplane is the control plane's wiring: Config with its validation, the config
// file and profiles, New (open the store, build every subsystem, bind the listeners, undoing it
// all on failure), Run (serve until the context ends, then an ordered shutdown), Reload, the
// reconcile loop that runs each subsystem's step in order, the HTTP endpoints and the metrics
// registry, and the check that refuses an exposed listener without TLS or tokens.
//
// Everything else lives in the packages under it, each owning its state and its lock: store
// (the bbolt file, the only bbolt user), check (sentinel errors, their gRPC codes, input limits
// and validation helpers), fleet (registry, sessions, liveness), commands (the durable command
// queue), stats (request rollups), router (routing per pool), cost (ledger, budgets, gate,
// recommendations), scaling (the autoscaler and its actuators), alerts (rules, healing,
// notifications), maintenance (backups, restore, deployments, windows), policy (the fleet policy
// document and its revisions), auth (access, authentication, TLS, limits, audit) and api (the
// gRPC services). Decisions live in pkg/*; this tree gathers the state they need and applies
// what they return.
package controlplane
