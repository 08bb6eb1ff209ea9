package proxy

import (
	"net"
	"strconv"
	"sync"
)

// Instances lists the ports of the service's instances that may take requests now: running and
// passing their health check. The proxy asks once per request, so Ports must be cheap; it must
// not modify the slice it returns afterwards.
type Instances interface {
	Ports() []int
}

// balancer spreads requests over the upstream host's live instance ports, each request to the
// port with the fewest requests in flight, ties taken in turn so that idle instances share the
// load evenly.
type balancer struct {
	src  Instances
	host string // the upstream's host name, without its port

	mu    sync.Mutex
	ports map[int]*upstreamPort
	turn  int
}

// upstreamPort is one instance's address and its requests in flight.
type upstreamPort struct {
	addr     string
	inFlight int
}

func newBalancer(src Instances, host string) *balancer {
	return &balancer{src: src, host: host, ports: make(map[int]*upstreamPort)}
}

// pick chooses an instance for one request and counts it in flight until done is called; it
// returns nil when no instance is live, and the request then goes to the configured upstream.
func (b *balancer) pick() *upstreamPort {
	live := b.src.Ports()
	if len(live) == 0 {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.turn++
	var best *upstreamPort
	for i := range live {
		port := live[(b.turn+i)%len(live)]
		u := b.ports[port]
		if u == nil {
			u = &upstreamPort{addr: net.JoinHostPort(b.host, strconv.Itoa(port))}
			b.ports[port] = u
		}
		if best == nil || u.inFlight < best.inFlight {
			best = u
		}
	}
	best.inFlight++
	return best
}

// done ends a request pick counted.
func (b *balancer) done(u *upstreamPort) {
	b.mu.Lock()
	u.inFlight--
	b.mu.Unlock()
}
