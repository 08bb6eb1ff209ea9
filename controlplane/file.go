package controlplane

import (
	"errors"
	"time"

	"github.com/dspyfleet/dspyfleet/controlplane/alerts"
	"github.com/dspyfleet/dspyfleet/controlplane/cost"
	"github.com/dspyfleet/dspyfleet/internal/cli"
)

// fileConfig is the YAML form of the control plane's configuration file; keys match the flags.
type fileConfig struct {
	Profile           *string          `yaml:"profile"`
	LogLevel          *string          `yaml:"log_level"`
	GRPCListen        *string          `yaml:"grpc_listen"`
	HTTPListen        *string          `yaml:"http_listen"`
	DataDir           *string          `yaml:"data_dir"`
	NodeTTL           *time.Duration   `yaml:"node_ttl"`
	TTLGrace          *time.Duration   `yaml:"ttl_grace"`
	FailoverTTL       *time.Duration   `yaml:"failover_ttl"`
	LivenessCheck     *time.Duration   `yaml:"liveness_check"`
	ReconcileInterval *time.Duration   `yaml:"reconcile_interval"`
	FlushInterval     *time.Duration   `yaml:"flush_interval"`
	MaxRecvBytes      *int             `yaml:"max_recv_bytes"`
	ShutdownTimeout   *time.Duration   `yaml:"shutdown_timeout"`
	CommandRetention  *time.Duration   `yaml:"command_retention"`
	RollupRetention   *time.Duration   `yaml:"rollup_retention"`
	NodeGC            *time.Duration   `yaml:"node_gc"`
	NodeGCUnready     *time.Duration   `yaml:"node_gc_unready"`
	MaxNewNodes       *int             `yaml:"max_new_nodes_per_minute"`
	ScalingHookDir    *string          `yaml:"scaling_hook_dir"`
	CostPrices        *cost.FilePrices `yaml:"cost_prices"`
	BudgetColdRequest *float64         `yaml:"budget_cold_request_usd"`

	AgentTokenFile        *string        `yaml:"agent_token_file"`
	AdminTokenFile        *string        `yaml:"admin_token_file"`
	ReadTokenFile         *string        `yaml:"read_token_file"`
	AgentTokensFile       *string        `yaml:"agent_tokens_file"`
	TLSCert               *string        `yaml:"tls_cert"`
	TLSKey                *string        `yaml:"tls_key"`
	ClientCA              *string        `yaml:"client_ca"`
	Insecure              *bool          `yaml:"insecure"`
	AgentRate             *float64       `yaml:"agent_rate"`
	AgentBurst            *int           `yaml:"agent_burst"`
	AdminRate             *float64       `yaml:"admin_rate"`
	AdminBurst            *int           `yaml:"admin_burst"`
	AuthFailuresPerMinute *int           `yaml:"auth_failures_per_minute"`
	MaxStreamsPerPeer     *int           `yaml:"max_streams_per_peer"`
	MaxNodes              *int           `yaml:"max_nodes"`
	MaxLabels             *int           `yaml:"max_labels"`
	MaxLabelValueBytes    *int           `yaml:"max_label_value_bytes"`
	MaxCommandParams      *int           `yaml:"max_command_params"`
	MaxReasonBytes        *int           `yaml:"max_reason_bytes"`
	AuditRetention        *time.Duration `yaml:"audit_retention"`

	Alerts *alerts.File `yaml:"alerts"`

	BackupDir      *string        `yaml:"backup_dir"`
	BackupInterval *time.Duration `yaml:"backup_interval"`
	BackupKeep     *int           `yaml:"backup_keep"`
	BackupMaxAge   *time.Duration `yaml:"backup_max_age"`

	DeployDrainGrace *time.Duration `yaml:"deploy_drain_grace"`
}

// File is a parsed control plane configuration file.
type File struct{ file *cli.File[fileConfig] }

// ReadFile reads the YAML file at path and parses it strictly (see ParseFile).
func ReadFile(path string) (*File, error) { return newFile(cli.ReadFile[fileConfig](path)) }

// ParseFile parses a configuration file's data; name is the file's name in errors. An unknown
// key, a key given twice or a value of the wrong type is an error naming the file, line and key,
// so a typo never silently falls back to a default.
func ParseFile(name string, data []byte) (*File, error) {
	return newFile(cli.ParseFile[fileConfig](name, data))
}

// newFile wraps a parsed file, or passes its error on.
func newFile(f *cli.File[fileConfig], err error) (*File, error) {
	if err != nil {
		return nil, err
	}
	return &File{f}, nil
}

// Profile is the profile the file names, "" when it names none.
func (f *File) Profile() string { return cli.Deref(f.file.Values.Profile) }

// LogLevel is the log level the file sets, "" when it sets none.
func (f *File) LogLevel() string { return cli.Deref(f.file.Values.LogLevel) }

// Check reports every value of the file that is out of range when applied over base (the
// defaults of the file's profile), each naming the file, line and key.
func (f *File) Check(base Config) error {
	return cli.CheckFields(f.file.Name, f.file.Lines, f.file.Values, func(one fileConfig) error {
		c := base
		one.apply(&c)
		return errors.Join(c.Validate(), cli.CheckProfile(cli.Deref(one.Profile)), cli.CheckLevel(cli.Deref(one.LogLevel)))
	})
}

// Apply sets the file's values on c.
func (f *File) Apply(c *Config) { f.file.Values.apply(c) }

// LoadFile parses the YAML file at path strictly (see ParseFile) and applies it onto c. Ranges
// are checked by File.Check, and by New.
func LoadFile(path string, c *Config) error { return cli.LoadFile(ReadFile, path, c) }

func (f fileConfig) apply(c *Config) {
	cli.Set(&c.GRPCListen, f.GRPCListen)
	cli.Set(&c.HTTPListen, f.HTTPListen)
	cli.Set(&c.DataDir, f.DataDir)
	cli.Set(&c.NodeTTL, f.NodeTTL)
	cli.Set(&c.TTLGrace, f.TTLGrace)
	cli.Set(&c.FailoverTTL, f.FailoverTTL)
	cli.Set(&c.LivenessCheck, f.LivenessCheck)
	cli.Set(&c.ReconcileInterval, f.ReconcileInterval)
	cli.Set(&c.FlushInterval, f.FlushInterval)
	cli.Set(&c.MaxRecvBytes, f.MaxRecvBytes)
	cli.Set(&c.ShutdownTimeout, f.ShutdownTimeout)
	cli.Set(&c.CommandRetention, f.CommandRetention)
	cli.Set(&c.RollupRetention, f.RollupRetention)
	cli.Set(&c.NodeGC, f.NodeGC)
	cli.Set(&c.NodeGCUnready, f.NodeGCUnready)
	cli.Set(&c.MaxNewNodesPerMinute, f.MaxNewNodes)
	cli.Set(&c.ScalingHookDir, f.ScalingHookDir)
	if f.CostPrices != nil {
		c.CostPrices = f.CostPrices.Table()
	}
	cli.Set(&c.BudgetColdRequestUSD, f.BudgetColdRequest)
	cli.Set(&c.AgentTokenFile, f.AgentTokenFile)
	cli.Set(&c.AdminTokenFile, f.AdminTokenFile)
	cli.Set(&c.ReadTokenFile, f.ReadTokenFile)
	cli.Set(&c.AgentTokensFile, f.AgentTokensFile)
	cli.Set(&c.TLSCert, f.TLSCert)
	cli.Set(&c.TLSKey, f.TLSKey)
	cli.Set(&c.ClientCA, f.ClientCA)
	cli.Set(&c.Insecure, f.Insecure)
	cli.Set(&c.AgentRate, f.AgentRate)
	cli.Set(&c.AgentBurst, f.AgentBurst)
	cli.Set(&c.AdminRate, f.AdminRate)
	cli.Set(&c.AdminBurst, f.AdminBurst)
	cli.Set(&c.AuthFailuresPerMinute, f.AuthFailuresPerMinute)
	cli.Set(&c.MaxStreamsPerPeer, f.MaxStreamsPerPeer)
	cli.Set(&c.MaxNodes, f.MaxNodes)
	cli.Set(&c.MaxLabels, f.MaxLabels)
	cli.Set(&c.MaxLabelValueBytes, f.MaxLabelValueBytes)
	cli.Set(&c.MaxCommandParams, f.MaxCommandParams)
	cli.Set(&c.MaxReasonBytes, f.MaxReasonBytes)
	cli.Set(&c.AuditRetention, f.AuditRetention)
	f.Alerts.Apply(&c.Alerts)
	cli.Set(&c.BackupDir, f.BackupDir)
	cli.Set(&c.BackupInterval, f.BackupInterval)
	cli.Set(&c.BackupKeep, f.BackupKeep)
	cli.Set(&c.BackupMaxAge, f.BackupMaxAge)
	cli.Set(&c.DeployDrainGrace, f.DeployDrainGrace)
}
