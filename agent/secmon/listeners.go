package secmon

import (
	"cmp"
	"net"
	"slices"
	"strconv"
)

// Listener is one listening socket.
type Listener struct {
	Proto string // tcp, tcp6, udp, udp6
	Addr  string // ip:port
}

// String returns "tcp 0.0.0.0:22".
func (l Listener) String() string { return l.Proto + " " + l.Addr }

// NewListeners returns the listeners of now not in known, sorted, and adds them to known. The
// first call (first true) only learns the baseline and returns none.
func NewListeners(known map[Listener]bool, now []Listener, first bool) []Listener {
	var added []Listener
	for _, l := range now {
		if known[l] {
			continue
		}
		known[l] = true
		if !first {
			added = append(added, l)
		}
	}
	slices.SortFunc(added, func(a, b Listener) int {
		return cmp.Or(cmp.Compare(a.Proto, b.Proto), cmp.Compare(a.Addr, b.Addr))
	})
	return added
}

// listenerOf formats a socket's address.
func listenerOf(proto, ip string, port uint32) Listener {
	return Listener{Proto: proto, Addr: net.JoinHostPort(ip, strconv.FormatUint(uint64(port), 10))}
}
