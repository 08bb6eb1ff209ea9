package secmon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"syscall"
	"time"

	psnet "github.com/shirou/gopsutil/v4/net"
	"golang.org/x/sync/errgroup"

	"github.com/dspyfleet/dspyfleet/agent/logs"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// Defaults for the zero values of Config.
const (
	DefaultCheckInterval = 30 * time.Second
	DefaultWindow        = 5 * time.Minute
	// MaxListed bounds the listeners and files one report names; the counts go on.
	MaxListed = 20
)

// Config says what the monitor watches; the zero value watches nothing.
type Config struct {
	// AuthLog is the auth log followed for failed SSH and sudo logins (e.g. /var/log/auth.log
	// or /var/log/secure).
	AuthLog string
	// AuthJournal counts the same failures in the systemd journal: the entries of ssh.service
	// and sshd.service and those of SYSLOG_IDENTIFIER sudo.
	AuthJournal bool
	// JournalDirectory is read instead of the system journal when set (journalctl --directory).
	JournalDirectory string
	// CursorFile keeps the auth journal's cursor across restarts; "" keeps none.
	CursorFile string
	// Listeners reports TCP listening sockets that were not there at start.
	Listeners bool
	// Files are hashed (sha256) at start and on every check; a change, a removal or an
	// appearance is reported.
	Files []string
	// CheckInterval is how often listeners and files are checked; 0 means
	// DefaultCheckInterval.
	CheckInterval time.Duration
	// Poll is how often the auth log is read; 0 means logs.DefaultPoll.
	Poll time.Duration
	// Window is how far back each report counts events, in whole minutes; 0 means
	// DefaultWindow.
	Window time.Duration
}

// Enabled reports whether anything is watched.
func (c Config) Enabled() bool {
	return c.AuthLog != "" || c.AuthJournal || c.Listeners || len(c.Files) > 0
}

// Validate names every invalid setting.
func (c Config) Validate() error {
	var errs []error
	for i, f := range c.Files {
		if f == "" {
			errs = append(errs, fmt.Errorf("security.files[%d] is empty", i))
		}
	}
	if c.CheckInterval < 0 || c.Poll < 0 {
		errs = append(errs, errors.New("security.check_interval and poll must not be negative"))
	}
	if c.Window != 0 && (c.Window < time.Minute || c.Window > time.Hour) {
		errs = append(errs, fmt.Errorf("security.window %s must be between 1m and 1h", c.Window))
	}
	return errors.Join(errs...)
}

// Monitor counts security events over a sliding window, so that every report carries what
// happened in the last Window whatever the report interval: a rule evaluated now and then
// cannot miss an event. Flush is safe for concurrent use with Run.
type Monitor struct {
	cfg       Config
	log       *slog.Logger
	now       func() time.Time
	listeners func(context.Context) ([]Listener, error)

	known   map[Listener]bool // touched by the check loop only
	digests map[string]string // touched by the check loop only

	mu      sync.Mutex
	buckets []bucket // one per minute of the window, by minute modulo len
	named   []named  // listeners and files, newest last, at most 2*MaxListed
}

// bucket counts one minute's events.
type bucket struct {
	minute                      int64
	ssh, sudo, listeners, files uint32
}

// named is one new listener or changed file.
type named struct {
	at   time.Time
	name string
	file bool
}

// New returns a monitor of cfg; it starts nothing.
func New(cfg Config, log *slog.Logger) (*Monitor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.CheckInterval == 0 {
		cfg.CheckInterval = DefaultCheckInterval
	}
	if cfg.Poll == 0 {
		cfg.Poll = logs.DefaultPoll
	}
	if cfg.Window == 0 {
		cfg.Window = DefaultWindow
	}
	return &Monitor{
		cfg: cfg, log: log, now: time.Now, listeners: tcpListeners, known: map[Listener]bool{}, digests: map[string]string{},
		buckets: make([]bucket, int(cfg.Window/time.Minute)),
	}, nil
}

// Run follows the auth log and checks listeners and files every CheckInterval until ctx ends.
// The first check, at once, takes the baseline.
func (m *Monitor) Run(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	if m.cfg.AuthLog != "" {
		f := logs.NewFollower(m.cfg.AuthLog, m.cfg.Poll, m.log, m.authLine, func() {})
		g.Go(func() error { return f.Run(gctx) })
	}
	if m.cfg.AuthJournal {
		j := logs.NewJournalFollower(logs.JournalOptions{
			Matches: AuthJournalMatches, Directory: m.cfg.JournalDirectory, CursorFile: m.cfg.CursorFile,
		}, m.log, func(e logs.Entry) { m.authLine(e.SyslogLine()) })
		g.Go(func() error { return j.Run(gctx) })
	}
	if m.cfg.Listeners || len(m.cfg.Files) > 0 {
		g.Go(func() error {
			m.check(gctx, true)
			t := time.NewTicker(m.cfg.CheckInterval)
			defer t.Stop()
			for {
				select {
				case <-gctx.Done():
					return nil
				case <-t.C:
					m.check(gctx, false)
				}
			}
		})
	}
	return g.Wait()
}

// AuthJournalMatches are the journalctl matches of the entries that can report a failed SSH
// or sudo authentication.
var AuthJournalMatches = []string{"_SYSTEMD_UNIT=ssh.service", "+", "_SYSTEMD_UNIT=sshd.service", "+", "SYSLOG_IDENTIFIER=sudo"}

// authLine counts one auth log line.
func (m *Monitor) authLine(line string) {
	switch ParseAuthLine(line) {
	case SSHFailure:
		m.add(func(b *bucket) { b.ssh++ }, "", false)
	case SudoFailure:
		m.add(func(b *bucket) { b.sudo++ }, "", false)
	}
}

// add counts one event in the current minute's bucket and keeps its name, if any.
func (m *Monitor) add(count func(*bucket), name string, file bool) {
	now := m.now()
	minute := now.Unix() / 60
	m.mu.Lock()
	defer m.mu.Unlock()
	b := &m.buckets[minute%int64(len(m.buckets))]
	if b.minute != minute {
		*b = bucket{minute: minute}
	}
	count(b)
	if name != "" {
		if len(m.named) == 2*MaxListed {
			m.named = slices.Delete(m.named, 0, 1)
		}
		m.named = append(m.named, named{at: now, name: name, file: file})
	}
}

// check diffs the listeners and hashes the files; first only takes the baseline.
func (m *Monitor) check(ctx context.Context, first bool) {
	if m.cfg.Listeners {
		now, err := m.listeners(ctx)
		if err != nil {
			m.log.Warn("socket table not read", "err", err)
		} else {
			for _, l := range NewListeners(m.known, now, first) {
				m.add(func(b *bucket) { b.listeners++ }, l.String(), false)
				m.log.Warn("new listening socket", "listener", l.String())
			}
		}
	}
	for _, path := range m.cfg.Files {
		d, err := digest(path)
		if err != nil {
			m.log.Warn("file not hashed", "path", path, "err", err)
			continue
		}
		old, seen := m.digests[path]
		m.digests[path] = d
		if first || !seen || old == d {
			continue
		}
		m.add(func(b *bucket) { b.files++ }, path, true)
		m.log.Warn("watched file changed", "path", path, "removed", d == "")
	}
}

// Flush returns the counts of the last Window (whole minutes, the current one included).
func (m *Monitor) Flush() *fleetv1.SecurityMetrics {
	now := m.now()
	first := now.Unix()/60 - int64(len(m.buckets)) + 1
	since := time.Unix(first*60, 0)
	m.mu.Lock()
	defer m.mu.Unlock()
	out := &fleetv1.SecurityMetrics{}
	for _, b := range m.buckets {
		if b.minute >= first {
			out.SshFailures += b.ssh
			out.SudoFailures += b.sudo
			out.NewListeners += b.listeners
			out.FileChanged += b.files
		}
	}
	for _, n := range m.named {
		switch {
		case n.at.Before(since):
		case n.file && len(out.ChangedFiles) < MaxListed && !slices.Contains(out.ChangedFiles, n.name):
			out.ChangedFiles = append(out.ChangedFiles, n.name)
		case !n.file && len(out.Listeners) < MaxListed:
			out.Listeners = append(out.Listeners, n.name)
		}
	}
	return out
}

// tcpListeners reads the host's TCP listening sockets from the socket table.
func tcpListeners(ctx context.Context) ([]Listener, error) {
	conns, err := psnet.ConnectionsWithoutUidsWithContext(ctx, "tcp")
	if err != nil {
		return nil, err
	}
	var out []Listener
	for _, c := range conns {
		if c.Status != "LISTEN" {
			continue
		}
		proto := "tcp"
		if c.Family == syscall.AF_INET6 {
			proto = "tcp6"
		}
		out = append(out, listenerOf(proto, c.Laddr.IP, c.Laddr.Port))
	}
	return out, nil
}
