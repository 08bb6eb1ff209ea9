package controlplane

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/dspyfleet/dspyfleet/controlplane/alerts"
	"github.com/dspyfleet/dspyfleet/controlplane/check"
	costgate "github.com/dspyfleet/dspyfleet/controlplane/cost"
	"github.com/dspyfleet/dspyfleet/controlplane/scaling"
	"github.com/dspyfleet/dspyfleet/internal/credential"
	"github.com/dspyfleet/dspyfleet/pkg/cost"
)

// Config configures a control plane. DefaultConfig gives the documented defaults.
type Config struct {
	// GRPCListen is the address of the gRPC API (agents and admin).
	GRPCListen string
	// HTTPListen is the address of /healthz, /readyz and /metrics.
	HTTPListen string
	// DataDir holds fleet.db.
	DataDir string
	// NodeTTL is the report silence after which a node is declared down; 0 means 3 × the
	// interval each agent announces.
	NodeTTL time.Duration
	// TTLGrace is added to the TTL before a node is declared down.
	TTLGrace time.Duration
	// FailoverTTL is the least time every known node gets after a restart before it may be
	// declared down.
	FailoverTTL time.Duration
	// LivenessCheck is how often silent nodes are looked for.
	LivenessCheck time.Duration
	// NodeGC is how long a node may stay down before the control plane forgets it; 0 keeps
	// down nodes for good.
	NodeGC time.Duration
	// NodeGCUnready is how long a node never seen ready may stay gone (not connected) before
	// the control plane forgets it; 0 leaves such nodes to NodeGC.
	NodeGCUnready time.Duration
	// MaxNewNodesPerMinute bounds the new node ids each credential registers a minute (a token
	// bucket of that size); known nodes reconnecting are never limited. 0 means no limit.
	MaxNewNodesPerMinute int
	// ReconcileInterval is how often the reconcile loop runs its steps (routing, scaling,
	// self-healing, alerts, cost, maintenance).
	ReconcileInterval time.Duration
	// DefaultInterval is assumed for agents that announce no report interval.
	DefaultInterval time.Duration
	// FlushInterval is how often changed nodes are written to bbolt, in one transaction.
	FlushInterval time.Duration
	// HelloTimeout bounds the wait for an agent's first message.
	HelloTimeout time.Duration
	// MaxClockSkew is how far ahead of the control plane's clock a report time may be.
	MaxClockSkew time.Duration
	// MaxRecvBytes is the largest gRPC message accepted.
	MaxRecvBytes int
	// LockTimeout bounds the wait for the bbolt file lock at start.
	LockTimeout time.Duration
	// ShutdownTimeout bounds the graceful stop of the gRPC and HTTP servers.
	ShutdownTimeout time.Duration
	// WatchBuffer is the number of events queued per watcher before it is dropped.
	WatchBuffer int
	// CommandRetention is how long finished commands are kept.
	CommandRetention time.Duration
	// RollupRetention is how long one-minute request rollups are kept.
	RollupRetention time.Duration
	// AgentToken, AdminToken and ReadToken are the bearer tokens of the agent, admin and
	// read-only roles (access.go says which role may call what). With none of them every
	// caller may call everything.
	AgentToken, AdminToken, ReadToken credential.Token
	// AgentTokenFile, AdminTokenFile and ReadTokenFile name files holding those tokens, read by
	// New; a file wins over a token given as a value.
	AgentTokenFile, AdminTokenFile, ReadTokenFile string
	// AgentTokensFile names a file of per-node agent tokens, "<node id> <token>" a line, re-read
	// when it changes: each token registers its own node only.
	AgentTokensFile string
	// TLSCert and TLSKey are the PEM files of the certificate and key the gRPC and HTTP
	// listeners serve, re-read when they change; empty means plaintext.
	TLSCert, TLSKey string
	// ClientCA is the PEM file of the CA that signs agent certificates (mTLS). With it, an
	// agent must present a certificate whose subject common name is its node id.
	ClientCA string
	// Insecure allows serving on a non-loopback address without TLS or without tokens, with a
	// warning at every start.
	Insecure bool
	// LoopbackOnly refuses any non-loopback listen address (--dev).
	LoopbackOnly bool
	// AgentRate and AgentBurst limit each agent's calls (session opens) per second; AdminRate
	// and AdminBurst each admin or read-only identity's calls. A rate of 0 means no limit.
	AgentRate, AdminRate   float64
	AgentBurst, AdminBurst int
	// AuthFailuresPerMinute is how many failed authentications in a row one presented token or
	// peer host may make before each further failure waits (1s, doubling up to 5m; forgotten
	// a minute after a wait ends without failing again); a valid credential never waits. It
	// also bounds the permission-denied events recorded per identity and minute. 0 means no
	// limit.
	AuthFailuresPerMinute int
	// MaxStreamsPerPeer bounds the streams one peer host may hold open; 0 means no limit.
	MaxStreamsPerPeer int
	// MaxNodes bounds the nodes the control plane knows; a new node past it is refused.
	MaxNodes int
	// MaxLabels and MaxLabelValueBytes bound a node's labels.
	MaxLabels, MaxLabelValueBytes int
	// MaxCommandParams and MaxReasonBytes bound what an admin call attaches to a command.
	MaxCommandParams, MaxReasonBytes int
	// AuditRetention is how long audit records (admin calls, security events) are kept.
	AuditRetention time.Duration

	// ScalingDefaults fill the fields a scaling policy leaves out; the profile chooses them.
	ScalingDefaults scaling.ScalingDefaults
	// ScalingHookDir holds the programs scaling policies may name as exec hooks; empty means
	// no policy may run one.
	ScalingHookDir string
	// CostPrices seeds the cost price table on a store that has none yet; afterwards the table
	// is edited through CostService.SetPrices (fleetctl cost prices set). Nil means none.
	CostPrices *cost.Table
	// BudgetColdRequestUSD is what a routed request is taken to cost at a hard budget's door
	// while nothing predicts it (no recent cost of its program or of the fleet); where a budget
	// has less room, cold requests pass one at a time.
	BudgetColdRequestUSD float64
	// Alerts configures rules, notification channels and healing guards.
	Alerts alerts.Config
	// BackupDir holds the control plane's backups; empty means <data-dir>/backups.
	BackupDir string
	// BackupInterval is how often a backup is taken on schedule; 0 turns scheduled backups off.
	BackupInterval time.Duration
	// BackupKeep is how many backups the retention keeps; 0 means no count limit.
	BackupKeep int
	// BackupMaxAge is the age past which backups are removed (the newest is always kept); 0
	// means no age limit.
	BackupMaxAge time.Duration
	// DeployDrainGrace is how long a deployment keeps a node out of routing before draining it,
	// so clients that picked it just before finish sending to it.
	DeployDrainGrace time.Duration
	// Logger receives the control plane's logs; nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// TracerProvider receives a span for every RPC and for each command's life (queued,
	// delivered); nil traces nothing.
	TracerProvider trace.TracerProvider
}

// DefaultConfig returns the defaults documented for the controlplane flags.
func DefaultConfig() Config {
	lim := check.DefaultLimits()
	return Config{
		ScalingDefaults:   scaling.ScalingDefaults{Min: 3, Max: 20, CPUTarget: 60, Predictive: true},
		GRPCListen:        "127.0.0.1:7070",
		HTTPListen:        "127.0.0.1:7071",
		DataDir:           "/var/lib/dspyfleet",
		TTLGrace:          5 * time.Second,
		FailoverTTL:       time.Minute,
		LivenessCheck:     time.Second,
		ReconcileInterval: 5 * time.Second,
		DefaultInterval:   5 * time.Second,
		FlushInterval:     time.Second,
		HelloTimeout:      10 * time.Second,
		MaxClockSkew:      5 * time.Minute,
		MaxRecvBytes:      4 << 20,
		LockTimeout:       time.Second,
		ShutdownTimeout:   10 * time.Second,
		WatchBuffer:       1024,
		CommandRetention:  7 * 24 * time.Hour,
		RollupRetention:   14 * 24 * time.Hour,
		NodeGC:            72 * time.Hour,
		NodeGCUnready:     24 * time.Hour,

		MaxNewNodesPerMinute: 60,

		AgentRate: 10, AgentBurst: 100, AdminRate: 50, AdminBurst: 100,
		AuthFailuresPerMinute: 10, MaxStreamsPerPeer: 1024, MaxNodes: 10000,
		MaxLabels: lim.MaxLabels, MaxLabelValueBytes: lim.MaxLabelValueBytes, MaxCommandParams: lim.MaxCommandParams, MaxReasonBytes: lim.MaxReasonBytes,
		AuditRetention:       90 * 24 * time.Hour,
		Alerts:               alerts.DefaultConfig(),
		BackupInterval:       6 * time.Hour,
		BackupKeep:           28,
		BackupMaxAge:         30 * 24 * time.Hour,
		DeployDrainGrace:     2 * time.Second,
		BudgetColdRequestUSD: costgate.DefaultColdRequestUSD,
	}
}

// Validate reports every invalid setting, naming its flag.
func (c Config) Validate() error {
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	check(c.GRPCListen != "", "--grpc-listen is empty")
	check(c.HTTPListen != "", "--http-listen is empty")
	check(c.DataDir != "", "--data-dir is empty")
	check(c.NodeTTL >= 0, "--node-ttl %s must not be negative", c.NodeTTL)
	check(c.TTLGrace >= 0, "--ttl-grace %s must not be negative", c.TTLGrace)
	check(c.FailoverTTL >= 0, "--failover-ttl %s must not be negative", c.FailoverTTL)
	check(c.LivenessCheck > 0, "--liveness-check %s must be positive", c.LivenessCheck)
	check(c.ReconcileInterval > 0, "--reconcile-interval %s must be positive", c.ReconcileInterval)
	check(c.DefaultInterval > 0, "default report interval %s must be positive", c.DefaultInterval)
	check(c.FlushInterval > 0, "--flush-interval %s must be positive", c.FlushInterval)
	check(c.HelloTimeout > 0, "hello timeout %s must be positive", c.HelloTimeout)
	check(c.MaxClockSkew >= 0, "max clock skew %s must not be negative", c.MaxClockSkew)
	check(c.MaxRecvBytes >= 1024, "--max-recv-bytes %d must be at least 1024", c.MaxRecvBytes)
	check(c.LockTimeout > 0, "lock timeout %s must be positive", c.LockTimeout)
	check(c.ShutdownTimeout > 0, "--shutdown-timeout %s must be positive", c.ShutdownTimeout)
	check(c.WatchBuffer > 0, "watch buffer %d must be positive", c.WatchBuffer)
	check(c.CommandRetention > 0, "--command-retention %s must be positive", c.CommandRetention)
	check(c.RollupRetention >= time.Hour, "--rollup-retention %s must be at least 1h", c.RollupRetention)
	errs = append(errs, c.nodeGC().Validate()...)
	check(c.MaxNewNodesPerMinute >= 0, "--max-new-nodes-per-minute %d must not be negative (0 means no limit)", c.MaxNewNodesPerMinute)
	errs = append(errs, c.security().Validate()...)
	errs = append(errs, c.validateLimits()...)
	check(c.BudgetColdRequestUSD > 0 && c.BudgetColdRequestUSD <= cost.MaxBudgetUSD,
		"--budget-cold-request-usd %v must be above 0 and at most %g", c.BudgetColdRequestUSD, cost.MaxBudgetUSD)
	if c.CostPrices != nil {
		if err := c.CostPrices.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("cost_prices: %w", err))
		}
	}
	errs = append(errs, c.Alerts.Validate())
	check(c.BackupInterval == 0 || c.BackupInterval >= time.Minute, "--backup-interval %s must be 0 (off) or at least 1m", c.BackupInterval)
	check(c.BackupKeep >= 0, "--backup-keep %d must not be negative", c.BackupKeep)
	check(c.BackupMaxAge >= 0, "--backup-max-age %s must not be negative", c.BackupMaxAge)
	check(c.DeployDrainGrace >= 0 && c.DeployDrainGrace <= time.Hour, "--deploy-drain-grace %s must be between 0 and 1h", c.DeployDrainGrace)
	return errors.Join(errs...)
}

// limits are the bounds on what callers may send.
func (c Config) limits() check.Limits {
	return check.Limits{
		MaxLabels: c.MaxLabels, MaxLabelValueBytes: c.MaxLabelValueBytes,
		MaxCommandParams: c.MaxCommandParams, MaxReasonBytes: c.MaxReasonBytes,
	}
}
