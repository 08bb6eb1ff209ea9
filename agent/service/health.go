package service

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

const (
	defaultHealthTimeout  = 30 * time.Second
	defaultHealthInterval = 200 * time.Millisecond
	// probeTimeout bounds one probe, so a hung listener still leaves time for the next.
	probeTimeout = 5 * time.Second
	// bodyExcerpt is how much of a failing response body the error quotes.
	bodyExcerpt = 256
)

// HealthCheck is an HTTP GET (a 2xx status passes) or a TCP connect. "{port}" in URL or TCP is
// replaced by the instance's port.
type HealthCheck struct {
	// URL is probed with GET, such as "http://127.0.0.1:{port}/healthz".
	URL string
	// TCP is a host:port to connect to, such as "127.0.0.1:{port}".
	TCP string
	// Timeout is the overall wait for a passing probe; 0 means 30s.
	Timeout time.Duration
	// Interval is the pause between probes; 0 means 200ms.
	Interval time.Duration
}

// Validate reports whether h names exactly one well-formed probe and sane durations.
func (h HealthCheck) Validate() error {
	if errs := h.problems(); len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, errors.Join(errs...))
	}
	return nil
}

func (h HealthCheck) problems() []error {
	var errs []error
	switch {
	case h.URL == "" && h.TCP == "":
		errs = append(errs, errors.New("health check needs a URL or a TCP address"))
	case h.URL != "" && h.TCP != "":
		errs = append(errs, fmt.Errorf("health check has URL %q and TCP %q; set only one", h.URL, h.TCP))
	case h.URL != "":
		u, err := url.Parse(expandPort(h.URL, 1))
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("health check URL %q: %w", h.URL, err))
		case u.Scheme != "http" && u.Scheme != "https":
			errs = append(errs, fmt.Errorf("health check URL %q must be http or https", h.URL))
		case u.Host == "":
			errs = append(errs, fmt.Errorf("health check URL %q has no host", h.URL))
		}
	default:
		host, port, err := net.SplitHostPort(expandPort(h.TCP, 1))
		if n, perr := strconv.Atoi(port); err != nil || perr != nil || host == "" || n < 1 || n > 65535 {
			errs = append(errs, fmt.Errorf("health check TCP %q must be host:port, such as 127.0.0.1:{port}", h.TCP))
		}
	}
	if h.Timeout < 0 {
		errs = append(errs, fmt.Errorf("health check timeout %s must not be negative", h.Timeout))
	}
	if h.Interval < 0 {
		errs = append(errs, fmt.Errorf("health check interval %s must not be negative", h.Interval))
	}
	return errs
}

// Wait probes until one probe passes, Timeout passes or ctx ends. Its error wraps ErrUnhealthy
// (or ctx's error) and says which probe failed and what the last probe saw: a status code or a
// dial error.
func (h HealthCheck) Wait(ctx context.Context, port int) error {
	if err := h.Validate(); err != nil {
		return err
	}
	if h.Timeout == 0 {
		h.Timeout = defaultHealthTimeout
	}
	if h.Interval == 0 {
		h.Interval = defaultHealthInterval
	}
	probe, desc := h.prober(port)
	wctx, cancel := context.WithTimeout(ctx, h.Timeout)
	defer cancel()
	var last error
	for {
		err := probe(wctx)
		if err == nil {
			return nil
		}
		// A probe cut short by the end of the wait says less than the one before it.
		if last == nil || wctx.Err() == nil {
			last = err
		}
		select {
		case <-wctx.Done():
			if ctx.Err() != nil {
				return fmt.Errorf("health check %s interrupted: %w; last probe: %v", desc, ctx.Err(), last)
			}
			return fmt.Errorf("%w: %s did not pass within %s; last probe: %v", ErrUnhealthy, desc, h.Timeout, last)
		case <-time.After(h.Interval):
		}
	}
}

// Probe runs one probe of h against port; its error names the probe and what it saw.
func (h HealthCheck) Probe(ctx context.Context, port int) error {
	probe, desc := h.prober(port)
	if err := probe(ctx); err != nil {
		return fmt.Errorf("%s: %w", desc, err)
	}
	return nil
}

// Configured reports whether h names a probe.
func (h HealthCheck) Configured() bool { return h.URL != "" || h.TCP != "" }

// prober returns one probe of h against port and a description naming it.
func (h HealthCheck) prober(port int) (probe func(context.Context) error, desc string) {
	if h.URL == "" {
		addr := expandPort(h.TCP, port)
		return func(ctx context.Context) error {
			ctx, cancel := context.WithTimeout(ctx, probeTimeout)
			defer cancel()
			var d net.Dialer
			c, err := d.DialContext(ctx, "tcp", addr)
			if err != nil {
				return err
			}
			c.Close()
			return nil
		}, "TCP connect to " + addr
	}
	target := expandPort(h.URL, port)
	// No keep-alives: each probe is a fresh connection and nothing lingers after Wait.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	return func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, probeTimeout)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, bodyExcerpt))
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			if body = bytes.TrimSpace(body); len(body) > 0 {
				return fmt.Errorf("status %s, body %q", resp.Status, body)
			}
			return fmt.Errorf("status %s", resp.Status)
		}
		return nil
	}, "GET " + target
}

// expandPort replaces every "{port}" in s with port.
func expandPort(s string, port int) string {
	return strings.ReplaceAll(s, "{port}", strconv.Itoa(port))
}
