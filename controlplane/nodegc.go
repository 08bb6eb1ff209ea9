package controlplane

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dspyfleet/dspyfleet/controlplane/auth"
	"github.com/dspyfleet/dspyfleet/controlplane/check"
	"github.com/dspyfleet/dspyfleet/controlplane/fleet"
	"github.com/dspyfleet/dspyfleet/pkg/nodegc"
)

// nodeGCAction is the method of the audit records of node removals.
const nodeGCAction = "node-gc"

// maxRemovalsPerStep bounds the nodes one GC step removes, so a backlog (a flood's leftovers)
// is worked off over a few ticks without one long step.
const maxRemovalsPerStep = 1000

// nodeGC is the policy of the node GC step, from the configuration.
func (c Config) nodeGC() nodegc.Policy {
	return nodegc.Policy{Down: c.NodeGC, Unready: c.NodeGCUnready}
}

// newRemovedNodes returns dspyfleet_nodes_removed_total, the nodes the GC step removed by
// reason, with both reasons at 0.
func newRemovedNodes() *prometheus.CounterVec {
	v := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dspyfleet_nodes_removed_total",
		Help: "Nodes the control plane forgot, by reason: down (down past --node-gc) or never_ready (never seen ready and gone past --node-gc-unready).",
	}, []string{"reason"})
	for _, r := range []nodegc.Reason{nodegc.ReasonDown, nodegc.ReasonNeverReady} {
		v.WithLabelValues(string(r))
	}
	return v
}

// collectGC decides which nodes to forget at now and forgets them: the audit records are
// written first (a decision whose record cannot be written is not applied), then each node is
// removed if the registry still finds it removable (a node that reconnected meanwhile is kept),
// then the records are completed with the outcomes. The store forgets the nodes at the next
// flush.
func (s *Server) collectGC(_ context.Context, now time.Time) error {
	p := s.cfg.nodeGC()
	if p == (nodegc.Policy{}) {
		return nil
	}
	decided := p.Decide(s.reg.GCNodes(), now)
	if len(decided) == 0 {
		return nil
	}
	if len(decided) > maxRemovalsPerStep {
		decided = decided[:maxRemovalsPerStep]
	}
	acts := make([]*auth.Action, len(decided))
	for i, d := range decided {
		acts[i] = &auth.Action{Method: nodeGCAction, Target: d.ID, Detail: "removed: " + d.Detail}
	}
	if err := s.sec.Audit.BeginActions(acts); err != nil {
		return fmt.Errorf("%d stale nodes kept: their audit records cannot be written: %w", len(acts), err)
	}
	errs := make([]error, len(decided))
	removed := 0
	for i, d := range decided {
		rm, err := s.reg.Remove(d.ID, p, now)
		errs[i] = err
		switch {
		case err == nil:
			removed++
			s.metrics.nodesRemoved.WithLabelValues(string(rm.Reason)).Inc()
			s.log.Info("stale node removed", "node", d.ID, "reason", rm.Reason, "detail", rm.Detail)
		case errors.Is(err, check.ErrFailedPrecondition), errors.Is(err, check.ErrNodeNotFound):
			s.log.Info("stale node kept: it changed since the decision", "node", d.ID, "err", err)
		default:
			s.log.Error("stale node not removed", "node", d.ID, "err", err)
		}
	}
	s.sec.Audit.FinishActions(acts, errs)
	if removed > 0 {
		s.log.Info("node GC removed stale nodes", "removed", removed, "decided", len(decided))
	}
	return nil
}

// registerLimit is the new-node limit of the registry, from the configuration; nil for none.
func (c Config) registerLimit() *fleet.RegisterLimit {
	return fleet.NewRegisterLimit(c.MaxNewNodesPerMinute)
}
