package api

import (
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"

	"github.com/dspyfleet/dspyfleet/controlplane/alerts"
	"github.com/dspyfleet/dspyfleet/controlplane/auth"
	"github.com/dspyfleet/dspyfleet/controlplane/check"
	"github.com/dspyfleet/dspyfleet/controlplane/commands"
	"github.com/dspyfleet/dspyfleet/controlplane/cost"
	"github.com/dspyfleet/dspyfleet/controlplane/fleet"
	"github.com/dspyfleet/dspyfleet/controlplane/logs"
	"github.com/dspyfleet/dspyfleet/controlplane/maintenance"
	"github.com/dspyfleet/dspyfleet/controlplane/policy"
	"github.com/dspyfleet/dspyfleet/controlplane/router"
	"github.com/dspyfleet/dspyfleet/controlplane/scaling"
	"github.com/dspyfleet/dspyfleet/controlplane/stats"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// Deps are the subsystems the gRPC services call, and the settings they enforce.
type Deps struct {
	Registry *fleet.Registry
	Commands *commands.Queue
	Stats    *stats.Requests
	Router   *router.Router
	Scaler   *scaling.Scaler
	Cost     *cost.Tracker
	Alerts   *alerts.Alerter
	Policy   *policy.Document
	Backups  *maintenance.Backups
	Deployer *maintenance.Deployer
	Windows  *maintenance.Windows
	Security *auth.Security
	Logs     *logs.Book

	Log      *slog.Logger
	Now      func() time.Time
	Stopping <-chan struct{} // closed when the control plane stops: watches end with UNAVAILABLE
	Limits   check.Limits
	// HelloTimeout bounds the wait for an agent's Hello; MaxClockSkew how far a report's time may
	// be ahead of the control plane's.
	HelloTimeout, MaxClockSkew time.Duration
	Metrics                    *Metrics
}

// Register registers every dspyfleet service on gs and returns them, for the shutdown.
func Register(gs *grpc.Server, d Deps) *Services {
	agents := &agentService{
		reg: d.Registry, cmds: d.Commands, stats: d.Stats, logs: d.Logs, sc: d.Scaler, log: d.Log, metrics: d.Metrics, now: d.Now,
		helloTimeout: d.HelloTimeout, maxSkew: d.MaxClockSkew, checkNode: d.Security.Auth.CheckNode, limits: d.Limits,
		securityEvent: d.Security.Audit.SecurityEvent,
	}
	fleetv1.RegisterAgentServiceServer(gs, agents)
	fleetv1.RegisterFleetServiceServer(gs, &fleetService{reg: d.Registry, cmds: d.Commands, stats: d.Stats, stopping: d.Stopping, limits: d.Limits, audit: d.Security.Audit})
	fleetv1.RegisterRoutingServiceServer(gs, &routingService{rt: d.Router, doc: d.Policy, sc: d.Scaler, gate: d.Cost.Gate, now: d.Now, metrics: d.Metrics, stopping: d.Stopping})
	fleetv1.RegisterConfigServiceServer(gs, &configService{fc: d.Policy})
	fleetv1.RegisterCostServiceServer(gs, &costService{c: d.Cost, doc: d.Policy, now: d.Now})
	fleetv1.RegisterScalingServiceServer(gs, &scalingService{sc: d.Scaler, doc: d.Policy})
	fleetv1.RegisterAlertServiceServer(gs, &alertService{a: d.Alerts, now: d.Now})
	fleetv1.RegisterMaintenanceServiceServer(gs, &maintenanceService{backups: d.Backups, cmds: d.Commands, deployer: d.Deployer, windows: d.Windows, stopping: d.Stopping})
	fleetv1.RegisterLogServiceServer(gs, &logService{book: d.Logs, reg: d.Registry, now: d.Now})
	return &Services{agents: agents}
}

// Services are the registered services, for the shutdown to join what they started.
type Services struct {
	agents *agentService
}

// Wait returns when every agent session's receiving goroutine has ended. Call it after the
// gRPC server has stopped, which ends every stream.
func (s *Services) Wait() { s.agents.receivers.Wait() }

// Metrics are the metrics the services count.
type Metrics struct {
	reports  *prometheus.CounterVec
	sessions *prometheus.CounterVec
	picks    *prometheus.CounterVec
}

// NewMetrics registers the services' metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		reports: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dspyfleet_reports_total",
			Help: "Agent metrics reports received, by result (accepted, duplicate, rejected).",
		}, []string{"result"}),
		sessions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dspyfleet_agent_sessions_total",
			Help: "Agent sessions opened, by result (accepted, rejected).",
		}, []string{"result"}),
		picks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dspyfleet_routing_picks_total",
			Help: "RoutingService.Pick calls by pool and outcome (picked, panic, unavailable).",
		}, []string{"pool", "outcome"}),
	}
	reg.MustRegister(m.reports, m.sessions, m.picks)
	return m
}
