package intake

import (
	"errors"
	"fmt"
	"net"
	"os"
)

// socketMode lets the agent's user and group report requests through the socket.
const socketMode = 0o660

// listen binds the configured TCP address and Unix socket.
func (i *Intake) listen() ([]net.Listener, error) {
	var lns []net.Listener
	if i.cfg.Listen != "" {
		ln, err := net.Listen("tcp", i.cfg.Listen)
		if err != nil {
			return nil, fmt.Errorf("intake: %w", err)
		}
		lns = append(lns, ln)
	}
	if i.cfg.Socket != "" {
		ln, err := listenUnix(i.cfg.Socket)
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return nil, err
		}
		lns = append(lns, ln)
	}
	return lns, nil
}

// listenUnix binds a Unix socket at path, replacing a stale socket file left by a process that
// died; it refuses to replace anything else or a socket someone still serves. The listener
// removes the file when closed.
func listenUnix(path string) (net.Listener, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("intake: %s exists and is not a socket", path)
		}
		if c, err := net.Dial("unix", path); err == nil {
			c.Close()
			return nil, fmt.Errorf("intake: %s is in use by another process", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("intake: remove stale socket: %w", err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("intake: %w", err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("intake: %w", err)
	}
	if err := os.Chmod(path, socketMode); err != nil {
		ln.Close()
		return nil, fmt.Errorf("intake: %w", err)
	}
	return ln, nil
}
