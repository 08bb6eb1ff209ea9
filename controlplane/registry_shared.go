package controlplane

import (
	"slices"

	"google.golang.org/protobuf/types/known/timestamppb"

	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// listShared returns every node for a reader that only reads: new Node messages with the
// scalar fields copied, sharing the last report, labels and timestamps with the registry. Those
// are never changed in place (a new report, label set or time replaces the old one), so sharing
// them is safe, and the registry lock is held for a copy of a few fields per node instead of a
// deep clone of every report: at 10,000 nodes the clone held the lock that every report waits
// for for seconds (BENCHMARKS.md). Callers must not modify the returned nodes.
func (r *registry) listShared() []*fleetv1.Node {
	r.mu.Lock()
	out := make([]*fleetv1.Node, 0, len(r.nodes))
	for _, e := range r.nodes {
		n := e.node
		c := &fleetv1.Node{
			Id: n.GetId(), Pool: n.GetPool(), Labels: n.GetLabels(), Weight: n.GetWeight(), HourlyPrice: n.GetHourlyPrice(),
			InstanceType: n.GetInstanceType(), AgentVersion: n.GetAgentVersion(), Hostname: n.GetHostname(),
			State: n.GetState(), StateReason: n.GetStateReason(), StateSince: n.GetStateSince(), FirstSeen: n.GetFirstSeen(),
			ConnectedSince: n.GetConnectedSince(), LastReport: n.GetLastReport(), ReportsReceived: e.received,
			ReportsDropped: n.GetReportsDropped(), ReportInterval: n.GetReportInterval(), PeerAddress: n.GetPeerAddress(),
			AgentInstanceId: n.GetAgentInstanceId(), DrainRequested: n.GetDrainRequested(), Drained: n.GetDrained(), Address: n.GetAddress(),
		}
		if !e.lastSeen.IsZero() {
			c.LastSeen = timestamppb.New(e.lastSeen)
		}
		out = append(out, c)
	}
	r.mu.Unlock()
	slices.SortFunc(out, func(a, b *fleetv1.Node) int { return compareStrings(a.GetId(), b.GetId()) })
	return out
}
