package fleet

import (
	"fmt"
	"time"
)

// Liveness: a node is declared down when no report arrived for its TTL plus a grace period.
//
// The TTL is --node-ttl, or 3 × the report interval the agent announced in its Hello when
// --node-ttl is 0, so one or two late reports never mark a node down. The grace (--ttl-grace)
// absorbs scheduling and network jitter, as Nomad's heartbeat grace does. The sweep runs every
// --liveness-check, so a silent node turns down between TTL+grace and TTL+grace+check after its
// last report, never before TTL+grace. After a control-plane restart every known node gets at
// least --failover-ttl from the restart before it may be declared down, so agents have time to
// reconnect (Nomad's failover heartbeat TTL).

// Liveness holds the liveness settings.
type Liveness struct {
	NodeTTL         time.Duration
	Grace           time.Duration
	FailoverTTL     time.Duration
	DefaultInterval time.Duration
}

// ttl is the report silence a node with the given announced interval may have.
func (p Liveness) ttl(interval time.Duration) time.Duration {
	if p.NodeTTL > 0 {
		return p.NodeTTL
	}
	if interval <= 0 {
		interval = p.DefaultInterval
	}
	return 3 * interval
}

// downAfter is the earliest time a node last heard from at lastSeen may be declared down.
func (p Liveness) downAfter(lastSeen time.Time, interval time.Duration) time.Time {
	return lastSeen.Add(p.ttl(interval) + p.Grace)
}

// afterRestart is the earliest down time of a node loaded from disk at start-up.
func (p Liveness) afterRestart(lastSeen time.Time, interval time.Duration, start time.Time) time.Time {
	d := p.downAfter(lastSeen, interval)
	if f := start.Add(p.FailoverTTL); f.After(d) {
		return f
	}
	return d
}

// downReason explains a down decision in words an operator can act on.
func (p Liveness) downReason(lastSeen, now time.Time, interval time.Duration) string {
	return fmt.Sprintf("no report for %s (TTL %s + grace %s); check the agent and the network path to the control plane",
		now.Sub(lastSeen).Round(time.Millisecond), p.ttl(interval), p.Grace)
}
