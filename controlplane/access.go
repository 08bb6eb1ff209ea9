package controlplane

import (
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	reflectionv1alpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"

	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// access says who may call a method.
type access uint8

// The kinds of access. A method missing from accessRules is refused to everyone, and a test
// fails the build for every method registered on the server without a rule.
const (
	// public needs no credential. Only grpc.health.v1 (load balancers and probes cannot send a
	// token) and server reflection (it describes the public API, so grpcurl list and describe
	// work; calls made with what it describes still need a token) are public.
	public access = iota + 1
	// agentOnly needs the agent token, a per-node agent token or an agent client certificate.
	agentOnly
	// read needs the read-only or the admin token. It changes nothing.
	read
	// write needs the admin token. It changes state and is recorded in the audit trail.
	write
	// dataPlane needs the read-only or admin token, like read, but is not held to the per-identity
	// --admin-rate: routing clients make one such call per DSPy request.
	dataPlane
)

// accessRules is the authorization table: one line per method of every service. No service may
// implement the go-grpc-middleware auth.ServiceAuthFuncOverride interface, which would bypass it.
var accessRules = map[string]access{
	fleetv1.AgentService_Connect_FullMethodName: agentOnly,

	fleetv1.FleetService_ListNodes_FullMethodName:     read,
	fleetv1.FleetService_GetNode_FullMethodName:       read,
	fleetv1.FleetService_WatchNodes_FullMethodName:    read,
	fleetv1.FleetService_DrainNode_FullMethodName:     write,
	fleetv1.FleetService_UndrainNode_FullMethodName:   write,
	fleetv1.FleetService_SendCommand_FullMethodName:   write,
	fleetv1.FleetService_GetCommand_FullMethodName:    read,
	fleetv1.FleetService_ListCommands_FullMethodName:  read,
	fleetv1.FleetService_CancelCommand_FullMethodName: write,
	fleetv1.FleetService_WatchCommands_FullMethodName: read,
	fleetv1.FleetService_GetPoolStats_FullMethodName:  read,
	fleetv1.FleetService_ListAudit_FullMethodName:     read,

	// Routing clients (Pick, then ReportResult with the pick's token) use the read-only token:
	// a result only counts for a pick the caller made.
	fleetv1.RoutingService_Pick_FullMethodName:           dataPlane,
	fleetv1.RoutingService_ReportResult_FullMethodName:   dataPlane,
	fleetv1.RoutingService_WatchEndpoints_FullMethodName: dataPlane,
	fleetv1.RoutingService_GetStatus_FullMethodName:      read,
	fleetv1.RoutingService_GetPolicy_FullMethodName:      read,
	fleetv1.RoutingService_SetPolicy_FullMethodName:      write,

	fleetv1.ScalingService_GetPolicy_FullMethodName:     read,
	fleetv1.ScalingService_SetPolicy_FullMethodName:     write,
	fleetv1.ScalingService_GetStatus_FullMethodName:     read,
	fleetv1.ScalingService_ListDecisions_FullMethodName: read,

	fleetv1.ConfigService_Validate_FullMethodName:      read,
	fleetv1.ConfigService_Apply_FullMethodName:         write,
	fleetv1.ConfigService_Rollback_FullMethodName:      write,
	fleetv1.ConfigService_Export_FullMethodName:        read,
	fleetv1.ConfigService_ListRevisions_FullMethodName: read,
	fleetv1.ConfigService_GetRevision_FullMethodName:   read,
	fleetv1.ConfigService_Diff_FullMethodName:          read,

	fleetv1.CostService_GetReport_FullMethodName:            read,
	fleetv1.CostService_ListBudgets_FullMethodName:          read,
	fleetv1.CostService_SetBudget_FullMethodName:            write,
	fleetv1.CostService_DeleteBudget_FullMethodName:         write,
	fleetv1.CostService_GetPrices_FullMethodName:            read,
	fleetv1.CostService_SetPrices_FullMethodName:            write,
	fleetv1.CostService_ListRecommendations_FullMethodName:  read,
	fleetv1.CostService_UpdateRecommendation_FullMethodName: write,

	fleetv1.AlertService_ListRules_FullMethodName:      read,
	fleetv1.AlertService_SetRule_FullMethodName:        write,
	fleetv1.AlertService_DeleteRule_FullMethodName:     write,
	fleetv1.AlertService_TestRule_FullMethodName:       read,
	fleetv1.AlertService_ListAlerts_FullMethodName:     read,
	fleetv1.AlertService_CreateSilence_FullMethodName:  write,
	fleetv1.AlertService_ListSilences_FullMethodName:   read,
	fleetv1.AlertService_DeleteSilence_FullMethodName:  write,
	fleetv1.AlertService_ListEvents_FullMethodName:     read,
	fleetv1.AlertService_ListDeliveries_FullMethodName: read,

	fleetv1.MaintenanceService_CreateBackup_FullMethodName:        write,
	fleetv1.MaintenanceService_ListBackups_FullMethodName:         read,
	fleetv1.MaintenanceService_VerifyBackup_FullMethodName:        write, // reads and hashes a whole file: admins only
	fleetv1.MaintenanceService_StartDeployment_FullMethodName:     write,
	fleetv1.MaintenanceService_GetDeployment_FullMethodName:       read,
	fleetv1.MaintenanceService_ListDeployments_FullMethodName:     read,
	fleetv1.MaintenanceService_WatchDeployment_FullMethodName:     read,
	fleetv1.MaintenanceService_PauseDeployment_FullMethodName:     write,
	fleetv1.MaintenanceService_ResumeDeployment_FullMethodName:    write,
	fleetv1.MaintenanceService_AbortDeployment_FullMethodName:     write,
	fleetv1.MaintenanceService_ScheduleMaintenance_FullMethodName: write,
	fleetv1.MaintenanceService_ListMaintenance_FullMethodName:     read,
	fleetv1.MaintenanceService_GetMaintenance_FullMethodName:      read,
	fleetv1.MaintenanceService_WatchMaintenance_FullMethodName:    read,
	fleetv1.MaintenanceService_PauseMaintenance_FullMethodName:    write,
	fleetv1.MaintenanceService_ResumeMaintenance_FullMethodName:   write,
	fleetv1.MaintenanceService_CancelMaintenance_FullMethodName:   write,

	healthpb.Health_Check_FullMethodName: public,
	healthpb.Health_List_FullMethodName:  public,
	healthpb.Health_Watch_FullMethodName: public,

	reflectionv1.ServerReflection_ServerReflectionInfo_FullMethodName:      public,
	reflectionv1alpha.ServerReflection_ServerReflectionInfo_FullMethodName: public,
}

// role is what a caller's credential makes it.
type role uint8

// The roles.
const (
	roleAgent role = iota + 1
	roleRead
	roleAdmin
	// roleAnyone is every caller when authentication is off (no token and no client CA
	// configured: loopback or --insecure only). It may call everything.
	roleAnyone
)

// String names the role as messages and the audit trail show it.
func (r role) String() string {
	switch r {
	case roleAgent:
		return "agent"
	case roleRead:
		return "read-only"
	case roleAdmin:
		return "admin"
	case roleAnyone:
		return "anyone"
	}
	return "none"
}

// allows reports whether r may call a method with access a.
func (a access) allows(r role) bool {
	switch a {
	case public:
		return true
	case agentOnly:
		return r == roleAgent || r == roleAnyone
	case read, dataPlane:
		return r == roleRead || r == roleAdmin || r == roleAnyone
	case write:
		return r == roleAdmin || r == roleAnyone
	}
	return false
}

// needs says which credential a call with access a needs, for PermissionDenied messages.
func (a access) needs() string {
	switch a {
	case agentOnly:
		return "the agent token, a per-node agent token or an agent client certificate"
	case read, dataPlane:
		return "the read-only or admin token"
	case write:
		return "the admin token"
	}
	return "a rule in the control plane's access table"
}
