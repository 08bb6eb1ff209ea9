package fleet

import (
	"slices"

	"google.golang.org/protobuf/types/known/timestamppb"

	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// ListShared returns every node for a reader that only reads, sorted by id (see sharedLocked).
func (r *Registry) ListShared() []*fleetv1.Node {
	var out []*fleetv1.Node
	r.eachEntry("", func(e *entry) { out = append(out, e.sharedLocked()) })
	slices.SortFunc(out, func(a, b *fleetv1.Node) int { return CompareStrings(a.GetId(), b.GetId()) })
	return out
}

// sharedLocked returns e's node as snapshotLocked does, but as a new Node with the scalar
// fields copied that shares the last report, labels and timestamps with the registry. Those
// are never changed in place (a new report, label set or time replaces the old one), so a
// reader that does not modify them may use the copy after the lock is released: the lock is
// held for a few fields per node instead of a deep clone of every report. At 10,000 nodes the
// clones held the lock that every report waits for for seconds (BENCHMARKS.md).
func (e *entry) sharedLocked() *fleetv1.Node {
	n := e.node
	c := &fleetv1.Node{
		Id: n.GetId(), Pool: n.GetPool(), Labels: n.GetLabels(), Weight: n.GetWeight(), HourlyPrice: n.GetHourlyPrice(),
		InstanceType: n.GetInstanceType(), AgentVersion: n.GetAgentVersion(), Hostname: n.GetHostname(),
		State: n.GetState(), StateReason: n.GetStateReason(), StateSince: n.GetStateSince(), FirstSeen: n.GetFirstSeen(),
		LastSeen: n.GetLastSeen(), ConnectedSince: n.GetConnectedSince(), LastReport: n.GetLastReport(), ReportsReceived: e.received,
		ReportsDropped: n.GetReportsDropped(), ReportInterval: n.GetReportInterval(), PeerAddress: n.GetPeerAddress(),
		AgentInstanceId: n.GetAgentInstanceId(), DrainRequested: n.GetDrainRequested(), Drained: n.GetDrained(), Address: n.GetAddress(),
		CapacityType: n.GetCapacityType(), Interruption: n.GetInterruption(), RestartHold: n.GetRestartHold(),
		LastReady: n.GetLastReady(),
	}
	if !e.lastSeen.IsZero() {
		c.LastSeen = timestamppb.New(e.lastSeen)
	}
	if !e.lastReady.IsZero() {
		c.LastReady = timestamppb.New(e.lastReady)
	}
	return c
}
