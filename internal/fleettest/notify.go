package fleettest

import (
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// NotifySocket is a systemd notification socket (a unixgram socket, as systemd's NOTIFY_SOCKET)
// that records the datagrams a daemon sends.
type NotifySocket struct {
	// Path is the socket's path, to pass as NOTIFY_SOCKET.
	Path string
	msgs chan string
}

// ListenNotify opens a NotifySocket in a temporary directory, closed with the test.
func ListenNotify(t testing.TB) *NotifySocket {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	n := &NotifySocket{Path: path, msgs: make(chan string, 1024)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for {
			k, err := conn.Read(buf)
			if err != nil {
				return
			}
			select {
			case n.msgs <- string(buf[:k]):
			default:
			}
		}
	}()
	t.Cleanup(func() {
		conn.Close()
		<-done
	})
	return n
}

// Expect waits for a datagram starting with prefix, skipping others, and returns it; the test
// fails after timeout. Skipped datagrams are returned too, oldest first.
func (n *NotifySocket) Expect(t testing.TB, prefix string, timeout time.Duration) (msg string, skipped []string) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case m := <-n.msgs:
			if strings.HasPrefix(m, prefix) {
				return m, skipped
			}
			skipped = append(skipped, m)
		case <-deadline:
			t.Fatalf("no %q notification within %s; got %q", prefix, timeout, skipped)
		}
	}
}
