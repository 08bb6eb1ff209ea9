package logs

import (
	"cmp"
	"slices"
	"sync"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dspyfleet/dspyfleet/pkg/logtemplate"
	fleetv1 "github.com/dspyfleet/dspyfleet/proto/dspyfleet/v1"
)

// Options tune the book; Defaults gives sensible values for 5 s reports.
type Options struct {
	// Alpha is the weight of a window in a template's baseline (0-1).
	Alpha float64
	// MinSamples is how many windows a baseline needs before it scores.
	MinSamples int64
	// NewFor is how long a template counts as new after it was first seen.
	NewFor time.Duration
	// MaxTemplates bounds the templates kept per node; the least recently seen go first.
	MaxTemplates int
}

// MinWindow is the shortest report window that gives rates.
const MinWindow = 100 * time.Millisecond

// Defaults are the book's default options.
func Defaults() Options {
	return Options{Alpha: 0.05, MinSamples: 12, NewFor: 10 * time.Minute, MaxTemplates: 500}
}

// Figures are a node's log figures from its last report window, rates per minute. CEL:
// node.logs.
type Figures struct {
	Lines, Errors   uint64
	LinesPerMin     float64
	ErrorRate       float64 // 0-1
	ErrorsPerMin    float64
	NewTemplates    int
	NewErrorsPerMin float64
	Anomaly         float64
	Updated         time.Time
	hasLogs         bool
}

// Book holds every node's templates. It is safe for concurrent use.
type Book struct {
	opts  Options
	mu    sync.Mutex
	nodes map[string]*node
}

// node is one node's templates and figures.
type node struct {
	pool      string
	templates map[string]*template
	figures   Figures
}

// template is one template of one node.
type template struct {
	id, text           string
	lines, errs, warns uint64
	linesPerMin        float64
	errorsPerMin       float64
	anomaly            float64
	base               logtemplate.Baseline
	firstSeen          time.Time
	lastSeen           time.Time
	isNew              bool // the agent also saw it first when the control plane did
	samples            []string
}

// New returns an empty book.
func New(o Options) *Book {
	return &Book{opts: o, nodes: make(map[string]*node)}
}

// Observe folds a node's report window into its templates and figures. A report without a log
// section changes nothing.
func (b *Book) Observe(pool, nodeID string, l *fleetv1.LogMetrics, window time.Duration, now time.Time) {
	if l == nil {
		return
	}
	// A window shorter than the shortest report interval (an agent's first report covers
	// almost no time) gives no rate: its counts are kept, the baselines left alone.
	rated := window >= MinWindow
	perMin := 0.0
	if rated {
		perMin = float64(time.Minute) / float64(window)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	n := b.nodes[nodeID]
	if n == nil {
		n = &node{templates: make(map[string]*template)}
		b.nodes[nodeID] = n
	}
	n.pool = pool
	f := Figures{Lines: l.GetLines(), Errors: l.GetErrors(), LinesPerMin: float64(l.GetLines()) * perMin, ErrorsPerMin: float64(l.GetErrors()) * perMin, Updated: now, hasLogs: true}
	if f.Lines > 0 {
		f.ErrorRate = float64(f.Errors) / float64(f.Lines)
	}
	for _, c := range l.GetTemplates() {
		t := n.templates[c.GetId()]
		if t == nil {
			t = &template{id: c.GetId(), firstSeen: now, isNew: c.GetNew()}
			n.templates[c.GetId()] = t
		}
		rate := float64(c.GetLines()) * perMin
		t.text, t.lastSeen = c.GetTemplate(), now
		t.lines += c.GetLines()
		t.errs += c.GetErrors()
		t.warns += c.GetWarnings()
		t.linesPerMin, t.errorsPerMin = rate, float64(c.GetErrors())*perMin
		if rated {
			t.anomaly = t.base.Score(rate, b.opts.MinSamples)
			t.base = t.base.Update(rate, b.opts.Alpha)
		}
		if len(c.GetSamples()) > 0 {
			t.samples = slices.Clone(c.GetSamples())
		}
		f.Anomaly = max(f.Anomaly, t.anomaly)
		if b.fresh(t, now) {
			f.NewErrorsPerMin += t.errorsPerMin
		}
	}
	for _, t := range n.templates {
		if b.fresh(t, now) {
			f.NewTemplates++
		}
	}
	n.figures = f
	b.evictLocked(n)
}

// fresh reports whether t counts as new at now.
func (b *Book) fresh(t *template, now time.Time) bool {
	return t.isNew && now.Sub(t.firstSeen) < b.opts.NewFor
}

// evictLocked drops a node's least recently seen templates past MaxTemplates.
func (b *Book) evictLocked(n *node) {
	over := len(n.templates) - b.opts.MaxTemplates
	if over <= 0 {
		return
	}
	ts := make([]*template, 0, len(n.templates))
	for _, t := range n.templates {
		ts = append(ts, t)
	}
	slices.SortFunc(ts, func(x, y *template) int { return x.lastSeen.Compare(y.lastSeen) })
	for _, t := range ts[:over] {
		delete(n.templates, t.id)
	}
}

// Figures returns a node's log figures; ok is false when the node never reported logs.
func (b *Book) Figures(nodeID string) (f Figures, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := b.nodes[nodeID]
	if n == nil || !n.figures.hasLogs {
		return Figures{}, false
	}
	return n.figures, true
}

// Forget drops a node's templates, for a node removed from the fleet.
func (b *Book) Forget(nodeID string) {
	b.mu.Lock()
	delete(b.nodes, nodeID)
	b.mu.Unlock()
}

// Templates returns a node's templates, busiest first, and its figures; ok is false for a node
// the book does not know.
func (b *Book) Templates(nodeID string, now time.Time) (stats []*fleetv1.LogTemplateStat, f Figures, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := b.nodes[nodeID]
	if n == nil {
		return nil, Figures{}, false
	}
	for _, t := range n.templates {
		s := b.stat(nodeID, n.pool, t, now)
		if !t.lastSeen.Equal(n.figures.Updated) {
			s.LinesPerMinute, s.ErrorsPerMinute, s.Anomaly = 0, 0, 0 // quiet in the last window
		}
		stats = append(stats, s)
	}
	sortStats(stats)
	return stats, n.figures, true
}

// Top returns the busiest templates of a pool ("" for every pool) in their nodes' last
// windows, summed by template id over the nodes, at most limit.
func (b *Book) Top(pool string, limit int, now time.Time) []*fleetv1.LogTemplateStat {
	b.mu.Lock()
	defer b.mu.Unlock()
	byID := make(map[string]*fleetv1.LogTemplateStat)
	for _, n := range b.nodes {
		if pool != "" && n.pool != pool {
			continue
		}
		for _, t := range n.templates {
			if !t.lastSeen.Equal(n.figures.Updated) {
				continue // not in the node's last window
			}
			s := byID[t.id]
			if s == nil {
				s = b.stat("", n.pool, t, now)
				s.Nodes = 0
				s.Lines, s.Errors, s.Warnings, s.LinesPerMinute, s.ErrorsPerMinute, s.BaselineLinesPerMinute = 0, 0, 0, 0, 0, 0
				byID[t.id] = s
			}
			if pool == "" && s.GetPool() != n.pool {
				s.Pool = ""
			}
			s.Nodes++
			s.Lines += t.lines
			s.Errors += t.errs
			s.Warnings += t.warns
			s.LinesPerMinute += t.linesPerMin
			s.ErrorsPerMinute += t.errorsPerMin
			s.BaselineLinesPerMinute += t.base.Mean
			s.Anomaly = max(s.GetAnomaly(), t.anomaly)
			s.New = s.GetNew() || b.fresh(t, now)
			if t.firstSeen.Before(s.GetFirstSeen().AsTime()) {
				s.FirstSeen = timestamppb.New(t.firstSeen)
			}
		}
	}
	out := make([]*fleetv1.LogTemplateStat, 0, len(byID))
	for _, s := range byID {
		out = append(out, s)
	}
	sortStats(out)
	return out[:min(len(out), limit)]
}

// stat converts one template.
func (b *Book) stat(nodeID, pool string, t *template, now time.Time) *fleetv1.LogTemplateStat {
	return &fleetv1.LogTemplateStat{
		NodeId: nodeID, Pool: pool, Id: t.id, Template: t.text,
		Lines: t.lines, Errors: t.errs, Warnings: t.warns,
		LinesPerMinute: t.linesPerMin, ErrorsPerMinute: t.errorsPerMin, BaselineLinesPerMinute: t.base.Mean,
		Anomaly: t.anomaly, FirstSeen: timestamppb.New(t.firstSeen), LastSeen: timestamppb.New(t.lastSeen),
		New: b.fresh(t, now), Nodes: 1, Samples: slices.Clone(t.samples),
	}
}

// sortStats orders templates by error rate, then line rate, then id.
func sortStats(s []*fleetv1.LogTemplateStat) {
	slices.SortFunc(s, func(x, y *fleetv1.LogTemplateStat) int {
		return cmp.Or(cmp.Compare(y.GetErrorsPerMinute(), x.GetErrorsPerMinute()),
			cmp.Compare(y.GetLinesPerMinute(), x.GetLinesPerMinute()), cmp.Compare(x.GetId(), y.GetId()))
	})
}
