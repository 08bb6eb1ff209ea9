package fleettest

import (
	"net"
	"sync"
	"testing"
)

// Proxy is a loopback TCP proxy. Stall stops forwarding bytes without closing connections (a
// black-holed network path); Heal resumes and closes the stalled connections so clients
// reconnect; SetTarget points new connections at another backend.
type Proxy struct {
	ln     net.Listener
	mu     sync.Mutex
	target string
	stall  bool
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup
	resume *sync.Cond
}

// StartProxy listens on 127.0.0.1:0 and forwards to target until the test ends.
func StartProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy listen: %v", err)
	}
	p := &Proxy{ln: ln, target: target, conns: make(map[net.Conn]struct{})}
	p.resume = sync.NewCond(&p.mu)
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.Close)
	return p
}

// Addr is the proxy's listening address.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// SetTarget points new connections at target.
func (p *Proxy) SetTarget(target string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.target = target
}

// Stall stops forwarding: bytes stay unread and connections stay open.
func (p *Proxy) Stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stall = true
}

// Heal resumes forwarding and closes every connection made before, as a network path that
// recovers after the peers gave up on it.
func (p *Proxy) Heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stall = false
	for c := range p.conns {
		_ = c.Close()
	}
	p.resume.Broadcast()
}

// Close stops the proxy and closes every connection.
func (p *Proxy) Close() {
	_ = p.ln.Close()
	p.mu.Lock()
	p.stall = false
	for c := range p.conns {
		_ = c.Close()
	}
	p.resume.Broadcast()
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		target := p.target
		p.mu.Unlock()
		up, err := net.Dial("tcp", target)
		if err != nil {
			_ = c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c] = struct{}{}
		p.conns[up] = struct{}{}
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(up, c)
		go p.pipe(c, up)
	}
}

// pipe copies src to dst, waiting while the proxy is stalled.
func (p *Proxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	defer func() {
		_ = dst.Close()
		_ = src.Close()
		p.mu.Lock()
		delete(p.conns, dst)
		delete(p.conns, src)
		p.mu.Unlock()
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.waitUnstalled(src) {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// waitUnstalled blocks while the proxy is stalled; it reports false if src was closed meanwhile.
func (p *Proxy) waitUnstalled(src net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.stall {
		p.resume.Wait()
	}
	_, open := p.conns[src]
	return open
}
