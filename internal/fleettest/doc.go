// Package fleettest starts real dspyfleet parts for tests: a control plane on 127.0.0.1:0 with
// bbolt in a temporary directory, agents, gRPC clients, and a loopback TCP proxy that can stall,
// heal and switch its target to test liveness and reconnects.
package fleettest
