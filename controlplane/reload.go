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
	s.reg.SetTTL(c.NodeTTL, c.TTLGrace)
	s.cmds.SetRetention(c.CommandRetention)
	s.stats.SetRetention(c.RollupRetention)
	for _, f := range []struct {
		flag            string
		running, wanted any
	}{
		{"--grpc-listen", s.cfg.GRPCListen, c.GRPCListen},
		{"--http-listen", s.cfg.HTTPListen, c.HTTPListen},
		{"--data-dir", s.cfg.DataDir, c.DataDir},
		{"--failover-ttl", s.cfg.FailoverTTL, c.FailoverTTL},
		{"--liveness-check", s.cfg.LivenessCheck, c.LivenessCheck},
		{"--node-gc", s.cfg.NodeGC, c.NodeGC},
		{"--node-gc-unready", s.cfg.NodeGCUnready, c.NodeGCUnready},
		{"--max-new-nodes-per-minute", s.cfg.MaxNewNodesPerMinute, c.MaxNewNodesPerMinute},
		{"--reconcile-interval", s.cfg.ReconcileInterval, c.ReconcileInterval},
		{"--flush-interval", s.cfg.FlushInterval, c.FlushInterval},
		{"--max-recv-bytes", s.cfg.MaxRecvBytes, c.MaxRecvBytes},
		{"--shutdown-timeout", s.cfg.ShutdownTimeout, c.ShutdownTimeout},
		{"--agent-token-file", s.cfg.AgentTokenFile, c.AgentTokenFile},
		{"--admin-token-file", s.cfg.AdminTokenFile, c.AdminTokenFile},
		{"--read-token-file", s.cfg.ReadTokenFile, c.ReadTokenFile},
		{"the agent token", s.cfg.AgentToken, c.AgentToken},
		{"the admin token", s.cfg.AdminToken, c.AdminToken},
		{"the read-only token", s.cfg.ReadToken, c.ReadToken},
		{"--agent-tokens-file", s.cfg.AgentTokensFile, c.AgentTokensFile},
		{"--tls-cert", s.cfg.TLSCert, c.TLSCert},
		{"--tls-key", s.cfg.TLSKey, c.TLSKey},
		{"--client-ca", s.cfg.ClientCA, c.ClientCA},
		{"--insecure", s.cfg.Insecure, c.Insecure},
		{"--agent-rate", s.cfg.AgentRate, c.AgentRate},
		{"--agent-burst", s.cfg.AgentBurst, c.AgentBurst},
		{"--admin-rate", s.cfg.AdminRate, c.AdminRate},
		{"--admin-burst", s.cfg.AdminBurst, c.AdminBurst},
		{"--auth-failures-per-minute", s.cfg.AuthFailuresPerMinute, c.AuthFailuresPerMinute},
		{"--max-streams-per-peer", s.cfg.MaxStreamsPerPeer, c.MaxStreamsPerPeer},
		{"--max-nodes", s.cfg.MaxNodes, c.MaxNodes},
		{"--max-labels", s.cfg.MaxLabels, c.MaxLabels},
		{"--max-label-value-bytes", s.cfg.MaxLabelValueBytes, c.MaxLabelValueBytes},
		{"--max-command-params", s.cfg.MaxCommandParams, c.MaxCommandParams},
		{"--max-reason-bytes", s.cfg.MaxReasonBytes, c.MaxReasonBytes},
		{"--audit-retention", s.cfg.AuditRetention, c.AuditRetention},
	} {
		if f.running != f.wanted {
			needRestart = append(needRestart, fmt.Sprintf("%s (running %v, configured %v)", f.flag, f.running, f.wanted))
		}
	}
	s.log.Info("configuration reloaded", "node_ttl", c.NodeTTL, "ttl_grace", c.TTLGrace,
		"command_retention", c.CommandRetention, "rollup_retention", c.RollupRetention)
	return needRestart, nil
}
