package fleet

import (
	"maps"
	"slices"
	"time"

	"github.com/dspyfleet/dspyfleet/pkg/routing"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// lostNodeCounts is how long a down or disconnected node still counts toward its pool's size
// for panic mode: a node lost long ago (say, removed by the autoscaler) must not keep a pool in
// panic forever.
const lostNodeCounts = 5 * time.Minute

// RoutingNodes returns the nodes of pool as routing sees them; the request figures (latency,
// requests, errors) are left for the router to fill in. It reads the pool in chunks
// (eachEntry).
func (r *Registry) RoutingNodes(pool string) []routing.Node {
	now := r.now()
	var out []routing.Node
	r.eachEntry(pool, func(e *entry) {
		n := e.node
		st := n.GetState()
		counted := st != fleetv1.NodeState_NODE_STATE_DRAINING && st != fleetv1.NodeState_NODE_STATE_DRAINED
		if lost := st == fleetv1.NodeState_NODE_STATE_DOWN || st == fleetv1.NodeState_NODE_STATE_DISCONNECTED; lost {
			counted = now.Sub(n.GetStateSince().AsTime()) < lostNodeCounts
		}
		out = append(out, routing.Node{
			ID: n.GetId(), Address: n.GetAddress(), Weight: n.GetWeight(), State: StateName(st),
			Ready:   st == fleetv1.NodeState_NODE_STATE_READY,
			Counted: counted,
			Session: sessionID(e.sess), ReportSeq: e.received, InFlight: n.GetLastReport().GetApp().GetInFlight(),
			CPU:  n.GetLastReport().GetHost().GetCpuPercent(),
			Spot: n.GetCapacityType() == fleetv1.CapacityType_CAPACITY_TYPE_SPOT || n.GetLabels()["spot"] == "true",
		})
	})
	return out
}

// Pools returns the pools that have nodes, sorted.
func (r *Registry) Pools() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Sorted(maps.Keys(r.byPool))
}

// HasPool reports whether any node belongs to pool.
func (r *Registry) HasPool(pool string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.byPool[pool]) > 0
}

// scalingLabels are the node labels the scaler reads.
var scalingLabels = []string{"spot", "max_instances"}

// ScalingNodes returns the nodes of pool, sorted by id, with only what the scaler reads: id,
// state, drain intent, price, first contact, report interval, the spot and max_instances labels,
// and the scalar figures of the last report (no sketches, breakdowns or disks), so that a tick
// over a large pool stays cheap.
func (r *Registry) ScalingNodes(pool string) []*fleetv1.Node {
	var out []*fleetv1.Node
	r.eachEntry(pool, func(e *entry) {
		n := e.node
		c := &fleetv1.Node{
			Id: n.GetId(), Pool: pool, State: n.GetState(), DrainRequested: n.GetDrainRequested(), Drained: n.GetDrained(),
			HourlyPrice: n.GetHourlyPrice(), FirstSeen: copyTime(n.GetFirstSeen()), StateSince: copyTime(n.GetStateSince()),
			ReportInterval: copyDuration(n.GetReportInterval()), CapacityType: n.GetCapacityType(),
		}
		if n.GetInterruption() != nil {
			c.Interruption = &fleetv1.InterruptionNotice{Source: n.GetInterruption().GetSource(), Deadline: copyTime(n.GetInterruption().GetDeadline())}
		}
		for _, k := range scalingLabels {
			if v, ok := n.GetLabels()[k]; ok {
				if c.Labels == nil {
					c.Labels = map[string]string{}
				}
				c.Labels[k] = v
			}
		}
		if rep := n.GetLastReport(); rep != nil {
			cr := &fleetv1.MetricsReport{Time: copyTime(rep.GetTime()), Window: copyDuration(rep.GetWindow())}
			if h := rep.GetHost(); h != nil {
				cr.Host = &fleetv1.HostMetrics{CpuPercent: h.GetCpuPercent(), MemoryUsedPercent: h.GetMemoryUsedPercent()}
			}
			if h := rep.GetServiceHealth(); h != nil {
				cr.ServiceHealth = &fleetv1.ServiceHealth{Healthy: h.GetHealthy(), Instances: h.GetInstances(), HealthyInstances: h.GetHealthyInstances()}
			}
			if a := rep.GetApp(); a != nil {
				cr.App = &fleetv1.AppMetrics{
					Requests: a.GetRequests(), Errors: a.GetErrors(), InFlight: a.GetInFlight(), RequestsPerSecond: a.GetRequestsPerSecond(),
					LatencyP95Ms: a.GetLatencyP95Ms(), TtftP95Ms: a.GetTtftP95Ms(), InputTokens: a.GetInputTokens(),
					OutputTokens: a.GetOutputTokens(), QueueLength: a.GetQueueLength(),
				}
			}
			c.LastReport = cr
		}
		out = append(out, c)
	})
	slices.SortFunc(out, func(a, b *fleetv1.Node) int { return CompareStrings(a.GetId(), b.GetId()) })
	return out
}

func copyTime(t *timestamppb.Timestamp) *timestamppb.Timestamp {
	if t == nil {
		return nil
	}
	return &timestamppb.Timestamp{Seconds: t.GetSeconds(), Nanos: t.GetNanos()}
}

func copyDuration(d *durationpb.Duration) *durationpb.Duration {
	if d == nil {
		return nil
	}
	return &durationpb.Duration{Seconds: d.GetSeconds(), Nanos: d.GetNanos()}
}

// sessionID returns s's id, or zero for no session.
func sessionID(s *Session) uint64 {
	if s == nil {
		return 0
	}
	return s.ID
}
