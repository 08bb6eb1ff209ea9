package api

import (
	"time"

	"github.com/dspyfleet/dspyfleet/controlplane/check"
	"github.com/dspyfleet/dspyfleet/controlplane/commands"
	"github.com/dspyfleet/dspyfleet/controlplane/fleet"
	"github.com/dspyfleet/dspyfleet/pkg/command"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// Bounds of an interruption notice's fields.
const (
	maxNoticeSource = 32
	maxNoticeDetail = 256
	// minNoticeDrain is the least drain time given to a notice whose deadline has passed.
	minNoticeDrain = time.Second
)

// validateInterruption checks a notice the agent sent.
func validateInterruption(n *fleetv1.InterruptionNotice) check.Violations {
	var v check.Violations
	if s := n.GetSource(); s == "" || len(s) > maxNoticeSource {
		v.Add("interruption.source", "must be 1-%d bytes (ec2, gce, azure, sigterm)", maxNoticeSource)
	}
	if len(n.GetDetail()) > maxNoticeDetail {
		v.Add("interruption.detail", "must be at most %d bytes", maxNoticeDetail)
	}
	if d := n.GetDeadline(); d == nil || d.CheckValid() != nil {
		v.Add("interruption.deadline", "must be a valid time")
	}
	return v
}

// interrupted applies an agent's interruption notice: the node is out of routing at once, a
// drain command lets its in-flight requests finish before the deadline, and the scaler starts a
// replacement. A notice sent again on a later session changes nothing.
func (a *agentService) interrupted(sess *fleet.Session, n *fleetv1.InterruptionNotice) error {
	if v := validateInterruption(n); len(v) > 0 {
		return check.Invalidf("interruption notice: %s", v)
	}
	// The node leaves routing and the scaler learns why between two of its ticks: a tick that saw
	// the node draining before it knew of the notice would replace it as if spot were plentiful.
	if a.sc != nil {
		defer a.sc.PauseTicks()()
	}
	in, err := a.reg.Interrupt(sess, n)
	if err != nil || !in.First {
		return err
	}
	now := a.now()
	window := min(max(n.GetDeadline().AsTime().Sub(now), minNoticeDrain), commands.DefaultDrainTimeout)
	a.log.Warn("interruption notice: node draining, replacement requested", "node", sess.NodeID, "pool", in.Pool,
		"source", n.GetSource(), "deadline", n.GetDeadline().AsTime().UTC().Format(time.RFC3339), "drain_window", window.Round(time.Second))
	params := map[string]string{command.ParamTimeout: window.String()}
	if _, err := a.cmds.Create(sess.NodeID, fleetv1.CommandKind_COMMAND_KIND_DRAIN, params, window+commands.DefaultTimeout, "interruption", "interruption notice from "+n.GetSource()); err != nil {
		a.log.Error("queueing the drain of an interrupted node failed; it is out of routing all the same", "node", sess.NodeID, "err", err)
	}
	if a.sc != nil {
		a.sc.Interrupted(in.Pool, sess.NodeID, in.Capacity == fleetv1.CapacityType_CAPACITY_TYPE_SPOT)
	}
	return nil
}
