package fleettest

import (
	"math/rand/v2"
	"net"
	"strconv"
	"testing"
)

// FreePortRange returns the first of n consecutive loopback ports that were all free a moment
// ago, for a service whose instance i listens on base+i. It picks below Linux's ephemeral range
// (32768 and up), so outgoing connections of tests running in parallel cannot take a port in
// between.
func FreePortRange(t testing.TB, n int) int {
	t.Helper()
	for range 100 {
		base := 20000 + rand.IntN(12000-n)
		var held []net.Listener
		for i := range n {
			l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(base+i))
			if err != nil {
				break
			}
			held = append(held, l)
		}
		for _, l := range held {
			_ = l.Close()
		}
		if len(held) == n {
			return base
		}
	}
	t.Fatalf("found no %d consecutive free ports", n)
	return 0
}
