// Package controlplane owns the dspyfleet control plane: the gRPC services (AgentService and
// FleetService), the agent session registry with node liveness, the bbolt store, and the HTTP
// endpoints for health and Prometheus metrics. Decisions live in pkg/*; this package gathers the
// state they need and applies what they return.
//
// Security lives in its own files: access.go (who may call each method), auth.go (tokens and
// client certificates), security.go (TLS and the interceptor chain), ratelimit.go and limits.go,
// exposure.go (no plaintext or unauthenticated non-loopback listener without --insecure) and
// audit.go (the audit trail of admin calls and security events).
package controlplane
