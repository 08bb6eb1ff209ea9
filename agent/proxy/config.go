package proxy

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// Defaults for the zero values of Config.
const (
	DefaultRetryAfter         = 5 * time.Second
	DefaultInputTokensHeader  = "X-DSPy-Input-Tokens"
	DefaultOutputTokensHeader = "X-DSPy-Output-Tokens"
	DefaultModelHeader        = "X-DSPy-Model"
	DefaultProgramHeader      = "X-DSPy-Program"
	DefaultModuleHeader       = "X-DSPy-Module"
	DefaultCacheHeader        = "X-DSPy-Cache" // "hit" or "miss"
	DefaultMaxInspect         = 1 << 20        // bytes
	DefaultShutdownTimeout    = 30 * time.Second
	DefaultMaxQueue           = 1024
	DefaultQueueTimeout       = 30 * time.Second
)

// Config says where the proxy listens, where it forwards to and where it finds usage.
type Config struct {
	Listen   string // e.g. ":8080"
	Upstream string // the DSPy server: "host:port" or an http(s) URL, optionally with a path prefix

	// RetryAfter is what a draining proxy tells new clients to wait (rounded up to whole
	// seconds); 0 means DefaultRetryAfter.
	RetryAfter time.Duration

	// Response headers (or trailers) the app may set; "" means the default.
	InputTokensHeader, OutputTokensHeader, ModelHeader, ProgramHeader, ModuleHeader, CacheHeader string

	// MaxInspect bounds the bytes of a JSON body scanned for usage, and of each Server-Sent
	// Event; 0 means DefaultMaxInspect.
	MaxInspect int64

	// MaxConcurrency is how many requests the proxy lets reach the upstream at once (the DSPy
	// server's worker slots); the rest wait in a first-come queue, whose length is the node's
	// queue_length. 0 lets every request through at once, with no queue.
	MaxConcurrency int
	// MaxQueue bounds the waiting requests: one more is refused with 503 and a Retry-After;
	// 0 means DefaultMaxQueue.
	MaxQueue int
	// QueueTimeout bounds a request's wait for a slot before it is refused with 503; 0 means
	// DefaultQueueTimeout.
	QueueTimeout time.Duration

	// Instances, when set, spreads requests over the service's live instances: each goes to
	// the Upstream host on the port of the instance with the fewest requests in flight. With
	// no live instance, requests go to Upstream as configured. nil forwards every request to
	// Upstream.
	Instances Instances

	// ShutdownTimeout bounds how long Run lets requests in flight finish once its context
	// ends; 0 means DefaultShutdownTimeout.
	ShutdownTimeout time.Duration

	// TracerProvider gives each request a span (continuing the client's W3C traceparent, with
	// token and cache attributes) and passes the span on to the upstream as traceparent; nil
	// traces nothing and passes the client's traceparent through untouched.
	TracerProvider trace.TracerProvider

	// Now is the clock requests are timed and stamped with (latency, time to first byte, the
	// event's time); nil means time.Now. Tests set it to time requests without waiting.
	Now func() time.Time
}

// Validate reports the first setting that cannot work.
func (c Config) Validate() error {
	if c.Listen == "" {
		return errors.New("proxy: no listen address")
	}
	if _, err := ParseUpstream(c.Upstream); err != nil {
		return err
	}
	switch {
	case c.RetryAfter < 0:
		return fmt.Errorf("proxy: retry-after %s is negative", c.RetryAfter)
	case c.MaxInspect < 0:
		return fmt.Errorf("proxy: max inspect %d is negative", c.MaxInspect)
	case c.ShutdownTimeout < 0:
		return fmt.Errorf("proxy: shutdown timeout %s is negative", c.ShutdownTimeout)
	case c.MaxConcurrency < 0:
		return fmt.Errorf("proxy: max_concurrency %d is negative (0 means no limit)", c.MaxConcurrency)
	case c.MaxQueue < 0:
		return fmt.Errorf("proxy: max_queue %d is negative (0 means the default %d)", c.MaxQueue, DefaultMaxQueue)
	case c.QueueTimeout < 0:
		return fmt.Errorf("proxy: queue_timeout %s is negative", c.QueueTimeout)
	}
	return nil
}

// withDefaults fills in the zero values.
func (c Config) withDefaults() Config {
	def := func(s *string, d string) {
		if *s == "" {
			*s = d
		}
	}
	def(&c.InputTokensHeader, DefaultInputTokensHeader)
	def(&c.OutputTokensHeader, DefaultOutputTokensHeader)
	def(&c.ModelHeader, DefaultModelHeader)
	def(&c.ProgramHeader, DefaultProgramHeader)
	def(&c.ModuleHeader, DefaultModuleHeader)
	def(&c.CacheHeader, DefaultCacheHeader)
	if c.RetryAfter == 0 {
		c.RetryAfter = DefaultRetryAfter
	}
	if c.MaxInspect == 0 {
		c.MaxInspect = DefaultMaxInspect
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = DefaultShutdownTimeout
	}
	if c.MaxQueue == 0 {
		c.MaxQueue = DefaultMaxQueue
	}
	if c.QueueTimeout == 0 {
		c.QueueTimeout = DefaultQueueTimeout
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// ParseUpstream parses an upstream: "host:port" or an http(s) URL, optionally with a path
// prefix.
func ParseUpstream(s string) (*url.URL, error) {
	if s == "" {
		return nil, errors.New("proxy: no upstream")
	}
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return nil, fmt.Errorf("proxy: upstream: %w", err)
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("proxy: upstream %q: scheme must be http or https", s)
	case u.Host == "":
		return nil, fmt.Errorf("proxy: upstream %q has no host", s)
	case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		return nil, fmt.Errorf("proxy: upstream %q may hold only a scheme, host and path", s)
	}
	return u, nil
}
