// Package sim simulates a fleet of dspyfleet agents in one process: each simulated agent is a
// real AgentService.Connect stream (Hello, a MetricsReport every interval, answers to commands,
// reconnects with backoff) whose host and DSPy figures follow a capacity model driven by the
// requests routed to it. A traffic driver sends a pattern's requests through the real
// RoutingService (Pick, then ReportResult), so the routing distribution the simulation reports
// is the control plane's own. cmd/fleetsim and the benchmark harness in bench/ are built on it.
//
// A fleet of 10,000 agents fits in one process: each agent is one sender and one receiver
// goroutine, and one shared scheduler wakes the senders, spread evenly over the interval.
package sim
