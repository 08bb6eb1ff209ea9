// Package api implements the control plane's gRPC services: AgentService (the agents' sessions),
// FleetService, RoutingService, ScalingService, CostService, AlertService, MaintenanceService
// and ConfigService. Each call validates its request, calls the subsystem that owns the state
// and maps the subsystem's errors to gRPC status codes (check.ToStatus); the services hold no
// locks of their own. Register puts them on a gRPC server.
package api
