package logtemplate

import (
	"fmt"
	"hash/fnv"
	"strings"
)

// DefaultSimilarity is the share of equal tokens a line needs to join a template.
const DefaultSimilarity = 0.5

// DefaultMaxTemplates bounds the templates one miner keeps.
const DefaultMaxTemplates = 1000

// OverflowID is the template lines count under once a miner holds MaxTemplates templates and a
// line matches none of them.
const OverflowID = "overflow"

// Options tune a miner; zero fields take the defaults.
type Options struct {
	// Similarity is the share of equal tokens (0-1) a line needs to join a template.
	Similarity float64
	// MaxTemplates bounds the templates kept; later new shapes count under OverflowID.
	MaxTemplates int
}

// Template is one group of log lines of the same shape.
type Template struct {
	// ID is a stable id: a hash of the line shape that created the template.
	ID string
	// tokens are the template's tokens, Wildcard where lines differ.
	tokens []string
}

// Text returns the template as a line, Wildcard where lines differ.
func (t *Template) Text() string { return strings.Join(t.tokens, " ") }

// Miner groups lines into templates the way Drain does: lines are bucketed by token count and
// first token, and a line joins the most similar template of its bucket when enough tokens are
// equal; tokens that differ become Wildcard. A Miner is not safe for concurrent use.
type Miner struct {
	opts    Options
	buckets map[bucketKey][]*Template
	count   int
}

// bucketKey is the Drain prefix tree cut to two levels: length, then first token.
type bucketKey struct {
	n     int
	first string
}

// NewMiner returns an empty miner.
func NewMiner(o Options) *Miner {
	if o.Similarity <= 0 || o.Similarity > 1 {
		o.Similarity = DefaultSimilarity
	}
	if o.MaxTemplates <= 0 {
		o.MaxTemplates = DefaultMaxTemplates
	}
	return &Miner{opts: o, buckets: make(map[bucketKey][]*Template)}
}

// Len returns the number of templates.
func (m *Miner) Len() int { return m.count }

// Add files line under a template and returns it; created is true when the line started a new
// template. A line beyond MaxTemplates that matches nothing returns the overflow template.
func (m *Miner) Add(line string) (t *Template, created bool) {
	toks := Tokens(line)
	key := bucketKey{n: len(toks)}
	if len(toks) > 0 {
		key.first = toks[0]
		if key.first == Wildcard {
			key.first = ""
		}
	}
	var best *Template
	bestSim := -1.0
	for _, c := range m.buckets[key] {
		if s := similarity(c.tokens, toks); s > bestSim {
			best, bestSim = c, s
		}
	}
	if best != nil && (bestSim >= m.opts.Similarity || len(toks) == 0) {
		for i, tok := range toks {
			if best.tokens[i] != tok {
				best.tokens[i] = Wildcard
			}
		}
		return best, false
	}
	if m.count >= m.opts.MaxTemplates {
		return overflow, false
	}
	t = &Template{ID: shapeID(toks), tokens: toks}
	m.buckets[key] = append(m.buckets[key], t)
	m.count++
	return t, true
}

// overflow is the template of lines beyond the miner's bound.
var overflow = &Template{ID: OverflowID, tokens: []string{Wildcard}}

// similarity is the share of positions where the template and the line agree, a Wildcard in
// the template agreeing with anything. Both have the same length.
func similarity(tmpl, toks []string) float64 {
	if len(toks) == 0 {
		return 1
	}
	eq := 0
	for i, t := range tmpl {
		if t == toks[i] || t == Wildcard {
			eq++
		}
	}
	return float64(eq) / float64(len(toks))
}

// shapeID hashes a token list to a 16-hex-digit id.
func shapeID(toks []string) string {
	h := fnv.New64a()
	for _, t := range toks {
		_, _ = h.Write([]byte(t))
		_, _ = h.Write([]byte{0})
	}
	return fmt.Sprintf("%016x", h.Sum64())
}
