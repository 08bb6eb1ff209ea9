package intake

import (
	"errors"
	"fmt"
	"time"
)

// Defaults for the zero values of Config.
const (
	DefaultListen    = "127.0.0.1:7072"
	DefaultMaxBody   = 1 << 20 // bytes
	DefaultQueueSize = 65536   // events
	DefaultMaxSkew   = 5 * time.Minute
)

// Config says where the intake listens and how much it takes in.
type Config struct {
	Listen    string        // TCP address, DefaultListen in the agent's flags; "" disables TCP
	Socket    string        // Unix socket path, created 0660 and removed on exit; "" disables it
	MaxBody   int64         // largest request body in bytes; 0 means DefaultMaxBody
	QueueSize int           // events waiting for the sink; 0 means DefaultQueueSize
	MaxSkew   time.Duration // how far ahead of the agent's clock a ts may be; 0 means DefaultMaxSkew
}

// Validate reports the first setting that cannot work.
func (c Config) Validate() error {
	switch {
	case c.Listen == "" && c.Socket == "":
		return errors.New("intake: neither a listen address nor a socket path is set")
	case c.MaxBody < 0:
		return fmt.Errorf("intake: max body %d is negative", c.MaxBody)
	case c.QueueSize < 0:
		return fmt.Errorf("intake: queue size %d is negative", c.QueueSize)
	case c.MaxSkew < 0:
		return fmt.Errorf("intake: max skew %s is negative", c.MaxSkew)
	}
	return nil
}

// withDefaults fills in the zero values.
func (c Config) withDefaults() Config {
	if c.MaxBody == 0 {
		c.MaxBody = DefaultMaxBody
	}
	if c.QueueSize == 0 {
		c.QueueSize = DefaultQueueSize
	}
	if c.MaxSkew == 0 {
		c.MaxSkew = DefaultMaxSkew
	}
	return c
}
