package controlplane

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"go.yaml.in/yaml/v3"
)

// fileConfig is the YAML form of the control plane's configuration file; keys match the flags.
type fileConfig struct {
	GRPCListen        *string        `yaml:"grpc_listen"`
	HTTPListen        *string        `yaml:"http_listen"`
	DataDir           *string        `yaml:"data_dir"`
	NodeTTL           *time.Duration `yaml:"node_ttl"`
	TTLGrace          *time.Duration `yaml:"ttl_grace"`
	FailoverTTL       *time.Duration `yaml:"failover_ttl"`
	LivenessCheck     *time.Duration `yaml:"liveness_check"`
	ReconcileInterval *time.Duration `yaml:"reconcile_interval"`
	FlushInterval     *time.Duration `yaml:"flush_interval"`
	MaxRecvBytes      *int           `yaml:"max_recv_bytes"`
	ShutdownTimeout   *time.Duration `yaml:"shutdown_timeout"`

	BackupDir      *string        `yaml:"backup_dir"`
	BackupInterval *time.Duration `yaml:"backup_interval"`
	BackupKeep     *int           `yaml:"backup_keep"`
	BackupMaxAge   *time.Duration `yaml:"backup_max_age"`

	DeployDrainGrace *time.Duration `yaml:"deploy_drain_grace"`
}

// LoadFile applies the YAML file at path onto c. Unknown keys and wrong types are errors naming
// the line, so a typo never silently falls back to a default.
func LoadFile(path string, c *Config) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("--config: %w", err)
	}
	var f fileConfig
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("config %s: %w", path, err)
	}
	set(&c.GRPCListen, f.GRPCListen)
	set(&c.HTTPListen, f.HTTPListen)
	set(&c.DataDir, f.DataDir)
	set(&c.NodeTTL, f.NodeTTL)
	set(&c.TTLGrace, f.TTLGrace)
	set(&c.FailoverTTL, f.FailoverTTL)
	set(&c.LivenessCheck, f.LivenessCheck)
	set(&c.ReconcileInterval, f.ReconcileInterval)
	set(&c.FlushInterval, f.FlushInterval)
	set(&c.MaxRecvBytes, f.MaxRecvBytes)
	set(&c.ShutdownTimeout, f.ShutdownTimeout)
	set(&c.BackupDir, f.BackupDir)
	set(&c.BackupInterval, f.BackupInterval)
	set(&c.BackupKeep, f.BackupKeep)
	set(&c.BackupMaxAge, f.BackupMaxAge)
	set(&c.DeployDrainGrace, f.DeployDrainGrace)
	return nil
}

func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}
