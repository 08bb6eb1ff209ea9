package service

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestRestartDelay(t *testing.T) {
	tests := []struct {
		base    time.Duration
		crashes int
		want    time.Duration
	}{
		{time.Second, 0, time.Second},
		{time.Second, 1, 2 * time.Second},
		{time.Second, 4, 16 * time.Second},
		{time.Second, 5, 30 * time.Second},
		{time.Second, 1000, 30 * time.Second},
		{100 * time.Millisecond, 3, 800 * time.Millisecond},
		{time.Minute, 0, time.Minute},
		{time.Minute, 3, time.Minute},
	}
	for _, tt := range tests {
		if got := restartDelay(tt.base, tt.crashes); got != tt.want {
			t.Errorf("restartDelay(%s, %d) = %s, want %s", tt.base, tt.crashes, got, tt.want)
		}
	}
}

func TestProcessConfigValidate(t *testing.T) {
	valid := func() ProcessConfig {
		return ProcessConfig{
			Command:  []string{"/usr/bin/dspy-serve", "--port={port}"},
			Env:      []string{"MODEL=gpt-4o-mini"},
			BasePort: 8000,
			Health:   HealthCheck{URL: "http://127.0.0.1:{port}/healthz"},
		}
	}
	tests := []struct {
		name    string
		mutate  func(*ProcessConfig)
		wantErr string
	}{
		{"valid", func(*ProcessConfig) {}, ""},
		{"empty command", func(c *ProcessConfig) { c.Command = nil }, "command is empty"},
		{"empty argv0", func(c *ProcessConfig) { c.Command = []string{""} }, "command is empty"},
		{"env without =", func(c *ProcessConfig) { c.Env = []string{"MODEL"} }, `env entry "MODEL" must be KEY=VALUE`},
		{"env sets PORT", func(c *ProcessConfig) { c.Env = []string{"PORT=1"} }, "PORT is set for each instance"},
		{"env sets instance", func(c *ProcessConfig) { c.Env = []string{"DSPYFLEET_INSTANCE=1"} }, "DSPYFLEET_INSTANCE is set"},
		{"negative instances", func(c *ProcessConfig) { c.Instances = -1 }, "instances -1 must not be negative"},
		{"instances above max", func(c *ProcessConfig) { c.Instances, c.MaxInstances = 3, 2 }, "max_instances 2 must be at least instances 3"},
		{"no base port", func(c *ProcessConfig) { c.BasePort = 0 }, "base_port 0"},
		{"ports past 65535", func(c *ProcessConfig) { c.BasePort, c.MaxInstances = 65534, 4 }, "base_port 65534"},
		{"negative grace", func(c *ProcessConfig) { c.StopGrace = -time.Second }, "stop_grace -1s"},
		{"negative backoff", func(c *ProcessConfig) { c.RestartBackoff = -time.Second }, "restart_backoff -1s"},
		{"negative tail", func(c *ProcessConfig) { c.OutputTail = -1 }, "output_tail -1"},
		{"no health check", func(c *ProcessConfig) { c.Health = HealthCheck{} }, "needs a URL or a TCP address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid()
			tt.mutate(&c)
			err := c.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate() = %v, want ErrInvalidConfig containing %q", err, tt.wantErr)
			}
			if _, err := NewProcessManager(c, nil); !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("NewProcessManager() = %v, want ErrInvalidConfig", err)
			}
		})
	}
}

func TestProcessConfigDefaults(t *testing.T) {
	c := ProcessConfig{Instances: 40}.withDefaults()
	want := ProcessConfig{Instances: 40, MaxInstances: 40, StopGrace: 10 * time.Second, RestartBackoff: time.Second, OutputTail: 4096}
	if c.Instances != want.Instances || c.MaxInstances != want.MaxInstances || c.StopGrace != want.StopGrace ||
		c.RestartBackoff != want.RestartBackoff || c.OutputTail != want.OutputTail {
		t.Errorf("withDefaults() = %+v, want %+v", c, want)
	}
	if got := (ProcessConfig{}).withDefaults(); got.Instances != 1 || got.MaxInstances != 32 {
		t.Errorf("withDefaults() instances %d, max %d; want 1, 32", got.Instances, got.MaxInstances)
	}
}
