package logs

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/sync/errgroup"

	"github.com/dspyfleet/dspyfleet/pkg/logtemplate"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// Report bounds.
const (
	// MaxReportTemplates is the most templates one report carries.
	MaxReportTemplates = 100
	// MaxTemplateBytes is the longest template text a report carries.
	MaxTemplateBytes = 512
	// MaxSamples is the most error lines a template keeps per window when sampling is on, each
	// at most MaxTemplateBytes long.
	MaxSamples = 3
)

// DefaultPoll is how often followed files are checked for new lines.
const DefaultPoll = 250 * time.Millisecond

// Config says which logs the agent follows.
type Config struct {
	// Files are the log files followed, by path; they may not exist yet.
	Files []string
	// SampleErrors sends the last few error lines of each template with the counts. Off by
	// default: reports carry counts only.
	SampleErrors bool
	// MaxTemplates bounds the templates kept; 0 means logtemplate.DefaultMaxTemplates.
	MaxTemplates int
	// Poll is how often files are checked; 0 means DefaultPoll.
	Poll time.Duration
	// Journal is the systemd journal followed.
	Journal JournalConfig
	// CursorFile keeps the journal cursor across restarts (the agent puts it in its state
	// dir); "" keeps none.
	CursorFile string
}

// JournalConfig says which units' journal entries are followed.
type JournalConfig struct {
	// Units are the systemd units whose entries are counted (e.g. dspy.service).
	Units []string
	// Directory is read instead of the system journal when set (journalctl --directory).
	Directory string
}

// Enabled reports whether any log is followed.
func (c Config) Enabled() bool { return len(c.Files) > 0 || len(c.Journal.Units) > 0 }

// Validate names the first invalid setting.
func (c Config) Validate() error {
	var errs []error
	for i, f := range c.Files {
		if f == "" {
			errs = append(errs, fmt.Errorf("logs.files[%d] is empty", i))
		}
	}
	for i, u := range c.Journal.Units {
		if u == "" || strings.HasPrefix(u, "-") {
			errs = append(errs, fmt.Errorf("logs.journal.units[%d] %q is not a unit name", i, u))
		}
	}
	if c.MaxTemplates < 0 {
		errs = append(errs, fmt.Errorf("logs.max_templates %d must not be negative", c.MaxTemplates))
	}
	if c.Poll < 0 {
		errs = append(errs, fmt.Errorf("logs.poll %s must not be negative", c.Poll))
	}
	return errors.Join(errs...)
}

// Analyzer follows the configured logs and counts their lines per template for each report
// window. Add and Flush are safe for concurrent use.
type Analyzer struct {
	cfg Config
	log *slog.Logger

	mu       sync.Mutex
	miner    *logtemplate.Miner
	window   map[string]*count
	lines    uint64
	errors   uint64
	warnings uint64
	newCount uint32
	cut      uint64
}

// count is one template's figures in the current window.
type count struct {
	tmpl     *logtemplate.Template
	lines    uint64
	errors   uint64
	warnings uint64
	created  bool
	samples  []string
}

// New returns an analyzer of cfg's logs; it starts nothing.
func New(cfg Config, log *slog.Logger) (*Analyzer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Poll == 0 {
		cfg.Poll = DefaultPoll
	}
	return &Analyzer{
		cfg: cfg, log: log,
		miner:  logtemplate.NewMiner(logtemplate.Options{MaxTemplates: cfg.MaxTemplates}),
		window: make(map[string]*count),
	}, nil
}

// Run follows every configured file until ctx ends.
func (a *Analyzer) Run(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	for _, path := range a.cfg.Files {
		f := NewFollower(path, a.cfg.Poll, a.log, a.Add, a.addCut)
		g.Go(func() error { return f.Run(gctx) })
	}
	if len(a.cfg.Journal.Units) > 0 {
		j := NewJournalFollower(JournalOptions{
			Units: a.cfg.Journal.Units, Directory: a.cfg.Journal.Directory, CursorFile: a.cfg.CursorFile,
		}, a.log, a.addEntry)
		g.Go(func() error { return j.Run(gctx) })
	}
	return g.Wait()
}

// Add counts one line, its level read from the line.
func (a *Analyzer) Add(line string) { a.AddLevel(line, logtemplate.LineLevel(line)) }

// AddLevel counts one line of a known level.
func (a *Analyzer) AddLevel(line string, lvl logtemplate.Level) {
	a.mu.Lock()
	defer a.mu.Unlock()
	tmpl, created := a.miner.Add(line)
	c := a.window[tmpl.ID]
	if c == nil {
		c = &count{tmpl: tmpl}
		a.window[tmpl.ID] = c
	}
	if created {
		c.created = true
		a.newCount++
	}
	c.lines++
	a.lines++
	switch lvl {
	case logtemplate.LevelError:
		c.errors++
		a.errors++
		if a.cfg.SampleErrors {
			if len(c.samples) == MaxSamples {
				c.samples = slices.Delete(c.samples, 0, 1)
			}
			c.samples = append(c.samples, clip(line, MaxTemplateBytes))
		}
	case logtemplate.LevelWarn:
		c.warnings++
		a.warnings++
	}
}

// addEntry counts one journal entry at its priority's level.
func (a *Analyzer) addEntry(e Entry) {
	if e.Cut {
		a.addCut()
	}
	a.AddLevel(e.Message, e.Level())
}

func (a *Analyzer) addCut() {
	a.mu.Lock()
	a.cut++
	a.mu.Unlock()
}

// Flush returns the window's figures and starts a new window.
func (a *Analyzer) Flush() *fleetv1.LogMetrics {
	a.mu.Lock()
	window := a.window
	out := &fleetv1.LogMetrics{
		Lines: a.lines, Errors: a.errors, Warnings: a.warnings, NewTemplates: a.newCount,
		TemplatesTotal: uint32(a.miner.Len()), DroppedLines: a.cut,
	}
	a.window = make(map[string]*count, len(window))
	a.lines, a.errors, a.warnings, a.newCount, a.cut = 0, 0, 0, 0, 0
	texts := make(map[string]string, len(window))
	for id, c := range window {
		texts[id] = c.tmpl.Text() // the miner changes templates under the lock
	}
	a.mu.Unlock()

	counts := make([]*count, 0, len(window))
	for _, c := range window {
		counts = append(counts, c)
	}
	slices.SortFunc(counts, func(x, y *count) int {
		if px, py := x.created || x.errors > 0, y.created || y.errors > 0; px != py {
			if px {
				return -1
			}
			return 1
		}
		return cmp.Or(cmp.Compare(y.errors, x.errors), cmp.Compare(y.lines, x.lines), strings.Compare(x.tmpl.ID, y.tmpl.ID))
	})
	for _, c := range counts[:min(len(counts), MaxReportTemplates)] {
		out.Templates = append(out.Templates, &fleetv1.LogTemplateCount{
			Id: c.tmpl.ID, Template: clip(texts[c.tmpl.ID], MaxTemplateBytes),
			Lines: c.lines, Errors: c.errors, Warnings: c.warnings, New: c.created, Samples: c.samples,
		})
	}
	return out
}

// clip cuts s to at most n bytes on a rune boundary and makes it valid UTF-8.
func clip(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
