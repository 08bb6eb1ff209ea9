// Package controlplane owns the dspyfleet control plane: the gRPC services (AgentService and
// FleetService), the agent session registry with node liveness, the bbolt store, and the HTTP
// endpoints for health and Prometheus metrics. Decisions live in pkg/*; this package gathers the
// state they need and applies what they return.
package controlplane
