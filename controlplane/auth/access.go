package auth

import (
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	reflectionv1alpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"

	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// access says who may call a method.
type Access uint8

// The kinds of access. A method missing from accessRules is refused to everyone, and a test
// fails the build for every method registered on the server without a rule.
const (
	// public needs no credential. Only grpc.health.v1 (load balancers and probes cannot send a
	// token) and server reflection (it describes the public API, so grpcurl list and describe
	// work; calls made with what it describes still need a token) are public.
	Public Access = iota + 1
	// agentOnly needs the agent token, a per-node agent token or an agent client certificate.
	AgentOnly
	// read needs the read-only or the admin token. It changes nothing.
	Read
	// write needs the admin token. It changes state and is recorded in the audit trail.
	Write
	// dataPlane needs the read-only or admin token, like read, but is not held to the per-identity
	// --admin-rate: routing clients make one such call per DSPy request.
	DataPlane
)

// accessRules is the authorization table: one line per method of every service. No service may
// implement the go-grpc-middleware auth.ServiceAuthFuncOverride interface, which would bypass it.
var AccessRules = map[string]Access{
	fleetv1.AgentService_Connect_FullMethodName: AgentOnly,

	fleetv1.FleetService_ListNodes_FullMethodName:     Read,
	fleetv1.FleetService_GetNode_FullMethodName:       Read,
	fleetv1.FleetService_WatchNodes_FullMethodName:    Read,
	fleetv1.FleetService_DrainNode_FullMethodName:     Write,
	fleetv1.FleetService_UndrainNode_FullMethodName:   Write,
	fleetv1.FleetService_SendCommand_FullMethodName:   Write,
	fleetv1.FleetService_GetCommand_FullMethodName:    Read,
	fleetv1.FleetService_ListCommands_FullMethodName:  Read,
	fleetv1.FleetService_CancelCommand_FullMethodName: Write,
	fleetv1.FleetService_WatchCommands_FullMethodName: Read,
	fleetv1.FleetService_GetPoolStats_FullMethodName:  Read,
	fleetv1.FleetService_ListAudit_FullMethodName:     Read,

	fleetv1.LogService_ListTopTemplates_FullMethodName:  Read,
	fleetv1.LogService_ListNodeTemplates_FullMethodName: Read,

	// Routing clients (Pick, then ReportResult with the pick's token) use the read-only token:
	// a result only counts for a pick the caller made.
	fleetv1.RoutingService_Pick_FullMethodName:           DataPlane,
	fleetv1.RoutingService_ReportResult_FullMethodName:   DataPlane,
	fleetv1.RoutingService_WatchEndpoints_FullMethodName: DataPlane,
	fleetv1.RoutingService_GetStatus_FullMethodName:      Read,
	fleetv1.RoutingService_GetPolicy_FullMethodName:      Read,
	fleetv1.RoutingService_SetPolicy_FullMethodName:      Write,

	fleetv1.ScalingService_GetPolicy_FullMethodName:     Read,
	fleetv1.ScalingService_SetPolicy_FullMethodName:     Write,
	fleetv1.ScalingService_GetStatus_FullMethodName:     Read,
	fleetv1.ScalingService_ListDecisions_FullMethodName: Read,

	fleetv1.ConfigService_Validate_FullMethodName:      Read,
	fleetv1.ConfigService_Apply_FullMethodName:         Write,
	fleetv1.ConfigService_Rollback_FullMethodName:      Write,
	fleetv1.ConfigService_Export_FullMethodName:        Read,
	fleetv1.ConfigService_ListRevisions_FullMethodName: Read,
	fleetv1.ConfigService_GetRevision_FullMethodName:   Read,
	fleetv1.ConfigService_Diff_FullMethodName:          Read,

	fleetv1.CostService_GetReport_FullMethodName:            Read,
	fleetv1.CostService_ListBudgets_FullMethodName:          Read,
	fleetv1.CostService_SetBudget_FullMethodName:            Write,
	fleetv1.CostService_DeleteBudget_FullMethodName:         Write,
	fleetv1.CostService_GetPrices_FullMethodName:            Read,
	fleetv1.CostService_SetPrices_FullMethodName:            Write,
	fleetv1.CostService_ListRecommendations_FullMethodName:  Read,
	fleetv1.CostService_UpdateRecommendation_FullMethodName: Write,
	fleetv1.CostService_GetSeries_FullMethodName:            Read,

	fleetv1.AlertService_ListRules_FullMethodName:      Read,
	fleetv1.AlertService_SetRule_FullMethodName:        Write,
	fleetv1.AlertService_DeleteRule_FullMethodName:     Write,
	fleetv1.AlertService_TestRule_FullMethodName:       Read,
	fleetv1.AlertService_ListAlerts_FullMethodName:     Read,
	fleetv1.AlertService_CreateSilence_FullMethodName:  Write,
	fleetv1.AlertService_ListSilences_FullMethodName:   Read,
	fleetv1.AlertService_DeleteSilence_FullMethodName:  Write,
	fleetv1.AlertService_ListEvents_FullMethodName:     Read,
	fleetv1.AlertService_ListDeliveries_FullMethodName: Read,

	fleetv1.MaintenanceService_CreateBackup_FullMethodName:        Write,
	fleetv1.MaintenanceService_ListBackups_FullMethodName:         Read,
	fleetv1.MaintenanceService_VerifyBackup_FullMethodName:        Write, // reads and hashes a whole file: admins only
	fleetv1.MaintenanceService_StartDeployment_FullMethodName:     Write,
	fleetv1.MaintenanceService_GetDeployment_FullMethodName:       Read,
	fleetv1.MaintenanceService_ListDeployments_FullMethodName:     Read,
	fleetv1.MaintenanceService_WatchDeployment_FullMethodName:     Read,
	fleetv1.MaintenanceService_PauseDeployment_FullMethodName:     Write,
	fleetv1.MaintenanceService_ResumeDeployment_FullMethodName:    Write,
	fleetv1.MaintenanceService_AbortDeployment_FullMethodName:     Write,
	fleetv1.MaintenanceService_ScheduleMaintenance_FullMethodName: Write,
	fleetv1.MaintenanceService_ListMaintenance_FullMethodName:     Read,
	fleetv1.MaintenanceService_GetMaintenance_FullMethodName:      Read,
	fleetv1.MaintenanceService_WatchMaintenance_FullMethodName:    Read,
	fleetv1.MaintenanceService_PauseMaintenance_FullMethodName:    Write,
	fleetv1.MaintenanceService_ResumeMaintenance_FullMethodName:   Write,
	fleetv1.MaintenanceService_CancelMaintenance_FullMethodName:   Write,

	healthpb.Health_Check_FullMethodName: Public,
	healthpb.Health_List_FullMethodName:  Public,
	healthpb.Health_Watch_FullMethodName: Public,

	reflectionv1.ServerReflection_ServerReflectionInfo_FullMethodName:      Public,
	reflectionv1alpha.ServerReflection_ServerReflectionInfo_FullMethodName: Public,
}

// role is what a caller's credential makes it.
type Role uint8

// The roles.
const (
	RoleAgent Role = iota + 1
	RoleRead
	RoleAdmin
	// roleAnyone is every caller when authentication is off (no token and no client CA
	// configured: loopback or --insecure only). It may call everything.
	RoleAnyone
)

// String names the role as messages and the audit trail show it.
func (r Role) String() string {
	switch r {
	case RoleAgent:
		return "agent"
	case RoleRead:
		return "read-only"
	case RoleAdmin:
		return "admin"
	case RoleAnyone:
		return "anyone"
	}
	return "none"
}

// allows reports whether r may call a method with access a.
func (a Access) Allows(r Role) bool {
	switch a {
	case Public:
		return true
	case AgentOnly:
		return r == RoleAgent || r == RoleAnyone
	case Read, DataPlane:
		return r == RoleRead || r == RoleAdmin || r == RoleAnyone
	case Write:
		return r == RoleAdmin || r == RoleAnyone
	}
	return false
}

// needs says which credential a call with access a needs, for PermissionDenied messages.
func (a Access) needs() string {
	switch a {
	case AgentOnly:
		return "the agent token, a per-node agent token or an agent client certificate"
	case Read, DataPlane:
		return "the read-only or admin token"
	case Write:
		return "the admin token"
	}
	return "a rule in the control plane's access table"
}
