package agent

import (
	"slices"
	"strconv"
	"sync"

	"github.com/dspyfleet/dspyfleet/agent/proxy"
	"github.com/dspyfleet/dspyfleet/agent/service"
)

// liveInstances tells the sidecar proxy which of the supervised service's instances take
// requests: those running now that passed the agent's last health check of them.
type liveInstances struct {
	mgr    *service.ProcessManager
	health *serviceHealth

	mu      sync.Mutex
	built   bool
	changes uint64 // mgr.Changes() when ports was built
	checked *[]int // the health check's ports when ports was built
	ports   []int  // replaced, never modified, once handed out
}

var _ proxy.Instances = (*liveInstances)(nil)

// balancedInstances returns the live instances the proxy should spread requests over, or nil
// when it should not: only the process manager runs instances on consecutive ports of this
// host, and only a proxy whose upstream is the first instance's port means them.
func balancedInstances(mgr service.Manager, health *serviceHealth, upstream string) *liveInstances {
	pm, ok := mgr.(*service.ProcessManager)
	if !ok || upstream == "" {
		return nil
	}
	insts := pm.Status()
	if len(insts) == 0 || upstreamPort(upstream) != insts[0].Port {
		return nil
	}
	return &liveInstances{mgr: pm, health: health}
}

// upstreamPort is the port of a proxy upstream ("host:port" or an http(s) URL), 0 if it has
// none.
func upstreamPort(upstream string) int {
	u, err := proxy.ParseUpstream(upstream)
	if err != nil {
		return 0
	}
	p, _ := strconv.Atoi(u.Port())
	return p
}

// Ports returns the ports of the instances running now that passed the last health check
// (every running one before the first check). It rebuilds the list only when an instance or the
// health check's verdict changed, so an instance that stops leaves the rotation at once.
func (l *liveInstances) Ports() []int {
	changes, checked := l.mgr.Changes(), l.health.ports.Load()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.built && changes == l.changes && checked == l.checked {
		return l.ports
	}
	var ports []int
	for _, in := range l.mgr.Status() {
		if instanceUp(in.State) && (checked == nil || slices.Contains(*checked, in.Port)) {
			ports = append(ports, in.Port)
		}
	}
	l.built, l.changes, l.checked, l.ports = true, changes, checked, ports
	return l.ports
}
