// Package controlplane is the control plane's wiring: Config and its validation, the config
// file, profiles, New (open the store, build every subsystem, bind the listeners), Run (serve
// until the context ends, then an ordered shutdown) and Reload. It also still holds the gRPC
// service implementations of the nine services, the reconcile loop, the alert, maintenance,
// fleet-config and security subsystems that have not moved into packages of their own yet.
//
// The subsystems that have moved live under it, each owning its state and its lock:
// store (the bbolt file, the only bbolt user), check (sentinel errors, their gRPC codes,
// validation helpers), fleet (registry, sessions, liveness), commands (the durable command
// queue), stats (request rollups), router (routing per pool), cost (ledger, budgets, gate,
// recommendations) and scaling (the autoscaler and its actuators). Decisions live in pkg/*;
// this tree gathers the state they need and applies what they return.
package controlplane
