package routing

import "time"

// Node is what the control plane knows of one node of a pool when it updates the pool.
type Node struct {
	// ID is the node id.
	ID string
	// Address is where clients send the node requests (host:port); a node without one is never
	// picked.
	Address string
	// Weight is the node's relative capacity; values ≤ 0 count as 1.
	Weight float64
	// State names the node's state for reasons, e.g. "draining".
	State string
	// Ready is true when the node may take requests (state ready).
	Ready bool
	// Counted is true when the node counts toward the pool's size for panic mode: every node
	// that is not draining or drained (the control plane stops counting nodes lost long ago),
	// so a pool whose nodes just went down panics.
	Counted bool
	// Session identifies the agent's current connection (zero while none): when it changes, the
	// node's results from clients are forgotten, since a reconnected or restarted agent's
	// service is a new one.
	Session uint64
	// ReportSeq changes whenever a new metrics report arrived; it starts a new in-flight epoch.
	ReportSeq uint64
	// InFlight is the in-flight request count of the last report.
	InFlight uint32
	// CPU is the host's CPU use in percent (0..100).
	CPU float64
	// Latency is the node's recent p95 latency as its agent reported it; zero when unknown.
	Latency time.Duration
	// Requests and Errors are the node's recent request and error counts as its agent reported
	// them, over the same window as Latency.
	Requests, Errors uint64
	// Spot is true for a spot host, which the cloud may reclaim: critical picks avoid it while
	// another node is eligible.
	Spot bool
}

// Pick is the outcome of Pool.Pick.
type Pick struct {
	// ID and Address name the node picked.
	ID, Address string
	// Epoch identifies the node's in-flight accounting period; hand it back to Result.
	Epoch uint32
	// Panic is true when the pick came from panic mode.
	Panic bool
}

// Endpoint is one node of the pool's current routing set with its effective weight.
type Endpoint struct {
	ID, Address string
	// Weight is the configured weight times the slow-start factor.
	Weight float64
}

// NodeStatus explains one node's place in routing.
type NodeStatus struct {
	ID, Address, State string
	// Eligible is true when the node is in the routing set.
	Eligible bool
	// Reason says why the node is not eligible, or what limits it (slow start, panic).
	Reason string
	// Weight is the configured weight; EffectiveWeight includes slow start.
	Weight, EffectiveWeight float64
	// InFlight is the load routing counts: the last report plus picks handed out since.
	InFlight int64
	// Ejected is true during an ejection, which ends at EjectedUntil.
	Ejected      bool
	EjectedUntil time.Time
	// Ejections is the current ejection multiplier.
	Ejections int
	// Latency is the latency routing uses: the client results' moving average, fading with its
	// age into the agent's p95.
	Latency time.Duration
	// ErrorRate is the error rate routing uses, blended the same way.
	ErrorRate float64
}

// Status is a pool's routing state.
type Status struct {
	Strategy Strategy
	// Panic is true when too few nodes are healthy and picks spread over every ready node.
	Panic       bool
	PanicReason string
	// Healthy and Counted are the numbers of healthy nodes and of nodes counting toward the
	// pool's size.
	Healthy, Counted int
	// Version changes whenever the routing set or its weights change.
	Version uint64
	Nodes   []NodeStatus
}
