package controlplane

import "fmt"

// Reload applies the settings of c that can change while running: NodeTTL and TTLGrace (each
// node's down deadline moves at its next report or Hello), CommandRetention and RollupRetention.
// All of c is validated first; an invalid c changes nothing. It returns the flags of the settings
// that differ from the running ones but need a restart; those keep their running values.
func (s *Server) Reload(c Config) (needRestart []string, err error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	s.reg.mu.Lock()
	s.reg.liveness.nodeTTL, s.reg.liveness.grace = c.NodeTTL, c.TTLGrace
	s.reg.mu.Unlock()
	s.cmds.mu.Lock()
	s.cmds.retention = c.CommandRetention
	s.cmds.mu.Unlock()
	s.stats.mu.Lock()
	s.stats.retention = c.RollupRetention
	s.stats.mu.Unlock()
	for _, f := range []struct {
		flag            string
		running, wanted any
	}{
		{"--grpc-listen", s.cfg.GRPCListen, c.GRPCListen},
		{"--http-listen", s.cfg.HTTPListen, c.HTTPListen},
		{"--data-dir", s.cfg.DataDir, c.DataDir},
		{"--failover-ttl", s.cfg.FailoverTTL, c.FailoverTTL},
		{"--liveness-check", s.cfg.LivenessCheck, c.LivenessCheck},
		{"--reconcile-interval", s.cfg.ReconcileInterval, c.ReconcileInterval},
		{"--flush-interval", s.cfg.FlushInterval, c.FlushInterval},
		{"--max-recv-bytes", s.cfg.MaxRecvBytes, c.MaxRecvBytes},
		{"--shutdown-timeout", s.cfg.ShutdownTimeout, c.ShutdownTimeout},
	} {
		if f.running != f.wanted {
			needRestart = append(needRestart, fmt.Sprintf("%s (running %v, configured %v)", f.flag, f.running, f.wanted))
		}
	}
	s.log.Info("configuration reloaded", "node_ttl", c.NodeTTL, "ttl_grace", c.TTLGrace,
		"command_retention", c.CommandRetention, "rollup_retention", c.RollupRetention)
	return needRestart, nil
}
