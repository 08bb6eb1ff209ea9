package preempt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// The clouds a Watcher knows.
const (
	EC2   = "ec2"
	GCE   = "gce"
	Azure = "azure"
)

// Clouds lists the clouds a Watcher knows.
var Clouds = []string{EC2, GCE, Azure}

// DefaultInterval is how often the metadata service is polled (EC2 advises every 5 s).
const DefaultInterval = 5 * time.Second

// maxBody bounds a metadata response read.
const maxBody = 64 << 10

// ec2TokenTTL is the IMDSv2 session token's life asked for; it is renewed well before.
const ec2TokenTTL = 6 * time.Hour

// Config says which metadata service to watch.
type Config struct {
	// Cloud is ec2, gce or azure.
	Cloud string
	// URL replaces the metadata service's base URL (scheme and host), e.g. a test server.
	URL string
	// Interval between polls; 0 means DefaultInterval.
	Interval time.Duration
	// Client makes the requests; nil means one with a 2 s timeout.
	Client *http.Client
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Log receives poll failures; nil means slog.Default().
	Log *slog.Logger
}

// Watcher polls one cloud's metadata service.
type Watcher struct {
	cfg  Config
	base string

	mu       sync.Mutex
	token    string // EC2 IMDSv2 session token
	tokenExp time.Time
	vm       string // Azure VM name, once read
}

// New checks cfg; it sends nothing.
func New(cfg Config) (*Watcher, error) {
	base := cfg.URL
	switch cfg.Cloud {
	case EC2, Azure:
		if base == "" {
			base = "http://169.254.169.254"
		}
	case GCE:
		if base == "" {
			base = "http://metadata.google.internal"
		}
	default:
		return nil, fmt.Errorf("cloud %q is not one of %s", cfg.Cloud, strings.Join(Clouds, ", "))
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("metadata URL %q must be http(s)://host[:port]", base)
	}
	if cfg.Interval == 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Interval < 10*time.Millisecond {
		return nil, fmt.Errorf("metadata poll interval %s must be at least 10ms", cfg.Interval)
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 2 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Watcher{cfg: cfg, base: strings.TrimSuffix(base, "/")}, nil
}

// Cloud names the cloud watched.
func (w *Watcher) Cloud() string { return w.cfg.Cloud }

// errNotFound is a 404: on EC2 the instance-action document exists only once a notice is out.
var errNotFound = errors.New("not found")

// CapacityType reads the host's capacity type from the metadata service.
func (w *Watcher) CapacityType(ctx context.Context) (string, error) {
	switch w.cfg.Cloud {
	case EC2:
		b, err := w.get(ctx, "/latest/meta-data/instance-life-cycle")
		if err != nil {
			return "", err
		}
		return ParseEC2LifeCycle(b)
	case GCE:
		b, err := w.get(ctx, "/computeMetadata/v1/instance/scheduling/preemptible")
		if err != nil {
			return "", err
		}
		return ParseGCEPreemptible(b)
	}
	b, err := w.get(ctx, "/metadata/instance/compute?api-version=2021-02-01")
	if err != nil {
		return "", err
	}
	name, capacity, err := ParseAzureCompute(b)
	if err == nil {
		w.mu.Lock()
		w.vm = name
		w.mu.Unlock()
	}
	return capacity, err
}

// Poll asks the metadata service once whether a notice is out.
func (w *Watcher) Poll(ctx context.Context) (Notice, bool, error) {
	now := w.cfg.Now()
	switch w.cfg.Cloud {
	case EC2:
		b, err := w.get(ctx, "/latest/meta-data/spot/instance-action")
		if errors.Is(err, errNotFound) {
			return Notice{}, false, nil
		}
		if err != nil {
			return Notice{}, false, err
		}
		n, err := ParseEC2Action(b, now)
		return n, err == nil, err
	case GCE:
		b, err := w.get(ctx, "/computeMetadata/v1/instance/preempted")
		if err != nil {
			return Notice{}, false, err
		}
		return ParseGCEPreempted(b, now)
	}
	b, err := w.get(ctx, "/metadata/scheduledevents?api-version=2020-07-01")
	if err != nil {
		return Notice{}, false, err
	}
	w.mu.Lock()
	vm := w.vm
	w.mu.Unlock()
	return ParseAzureEvents(b, vm, now)
}

// Run polls every interval until a notice is out, hands it to notify once and returns nil; it
// returns nil when ctx ends first. A failed poll is logged and tried again at the next interval.
func (w *Watcher) Run(ctx context.Context, notify func(Notice)) error {
	t := time.NewTicker(w.cfg.Interval)
	defer t.Stop()
	failing := false
	for {
		n, ok, err := w.Poll(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil && !failing:
			w.cfg.Log.Warn("polling the metadata service for an interruption notice failed; retrying", "cloud", w.cfg.Cloud, "err", err)
			failing = true
		case err == nil:
			failing = false
		}
		if ok {
			notify(n)
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// get reads one metadata path with the cloud's headers.
func (w *Watcher) get(ctx context.Context, path string) ([]byte, error) {
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, w.base+path, nil)
		if err != nil {
			return nil, err
		}
		switch w.cfg.Cloud {
		case EC2:
			tok, err := w.ec2Token(ctx)
			if err != nil {
				return nil, err
			}
			req.Header.Set("X-aws-ec2-metadata-token", tok)
		case GCE:
			req.Header.Set("Metadata-Flavor", "Google")
		case Azure:
			req.Header.Set("Metadata", "true")
		}
		resp, err := w.cfg.Client.Do(req)
		if err != nil {
			return nil, err
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
		resp.Body.Close()
		switch {
		case err != nil:
			return nil, err
		case resp.StatusCode == http.StatusUnauthorized && w.cfg.Cloud == EC2 && attempt == 0:
			w.mu.Lock()
			w.token = "" // expired or revoked: fetch a new one once
			w.mu.Unlock()
			continue
		case resp.StatusCode == http.StatusNotFound:
			return nil, errNotFound
		case resp.StatusCode != http.StatusOK:
			return nil, fmt.Errorf("GET %s: %s", path, resp.Status)
		}
		return b, nil
	}
}

// ec2Token returns an IMDSv2 session token, asking for a new one (PUT /latest/api/token) when
// there is none or it is about to expire.
func (w *Watcher) ec2Token(ctx context.Context) (string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.cfg.Now()
	if w.token != "" && now.Before(w.tokenExp) {
		return w.token, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, w.base+"/latest/api/token", nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("X-aws-ec2-metadata-token-ttl-seconds", fmt.Sprint(int(ec2TokenTTL.Seconds())))
	resp, err := w.cfg.Client.Do(req)
	if err != nil {
		return "", fmt.Errorf("ec2 metadata token: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return "", fmt.Errorf("ec2 metadata token: %w", err)
	}
	if resp.StatusCode != http.StatusOK || len(b) == 0 {
		return "", fmt.Errorf("ec2 metadata token: PUT /latest/api/token: %s", resp.Status)
	}
	w.token, w.tokenExp = strings.TrimSpace(string(b)), now.Add(ec2TokenTTL-10*time.Minute)
	return w.token, nil
}
