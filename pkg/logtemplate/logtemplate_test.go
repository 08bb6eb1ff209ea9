package logtemplate

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestTokens(t *testing.T) {
	tests := []struct {
		line string
		want []string
	}{
		{"", nil},
		{"  served  request\tin 12ms ", []string{"served", "request", "in", "<*>"}},
		{"user 42 from 10.0.0.7:5522 id=9f8e7d", []string{"user", "<*>", "from", "<*>", "<*>"}},
		{"trace 0xdeadbeef done", []string{"trace", "<*>", "done"}},
		{"bad \xff\xfe byte", []string{"bad", "\uFFFD", "byte"}},
	}
	for _, tt := range tests {
		if got := Tokens(tt.line); !slices.Equal(got, tt.want) {
			t.Errorf("Tokens(%q) = %q, want %q", tt.line, got, tt.want)
		}
	}
	long := strings.Repeat("word ", 100)
	if got := Tokens(long); len(got) != maxTokens || got[maxTokens-1] != Wildcard {
		t.Errorf("Tokens of 100 words: %d tokens, last %q; want %d ending in %q", len(got), got[len(got)-1], maxTokens, Wildcard)
	}
}

func TestLineLevel(t *testing.T) {
	tests := []struct {
		line string
		want Level
	}{
		{"2026-12-03 10:00:01 ERROR dspy.predict: timeout", LevelError},
		{"2026-12-03T10:00:01Z [WARN] slow call", LevelWarn},
		{"INFO:     127.0.0.1:5000 - \"POST /predict HTTP/1.1\" 200 OK", LevelInfo},
		{"time=2026-12-03 level=error msg=boom", LevelError},
		{`{"ts":1,"level":"warning","msg":"x"}`, LevelWarn},
		{"Traceback (most recent call last):", LevelError},
		{"debug: cache miss", LevelDebug},
		{"served request in 12ms", LevelUnknown},
		{"a b c d e f ERROR late in the line", LevelUnknown},
		{"errors are prose here", LevelUnknown},
	}
	for _, tt := range tests {
		if got := LineLevel(tt.line); got != tt.want {
			t.Errorf("LineLevel(%q) = %s, want %s", tt.line, got, tt.want)
		}
	}
}

func TestPriority(t *testing.T) {
	want := []Level{LevelError, LevelError, LevelError, LevelError, LevelWarn, LevelInfo, LevelInfo, LevelDebug}
	for p, w := range want {
		if got := Priority(p); got != w {
			t.Errorf("Priority(%d) = %s, want %s", p, got, w)
		}
	}
	if Priority(-1) != LevelUnknown || Priority(8) != LevelUnknown {
		t.Error("out-of-range priorities must be unknown")
	}
}

func TestMinerGroups(t *testing.T) {
	tests := []struct {
		name      string
		lines     []string
		templates []string // texts, in creation order
		ids       []int    // template index of each line
	}{
		{
			name:      "numbers vary",
			lines:     []string{"served request 1 in 12ms", "served request 2 in 40ms", "served request 3 in 1ms"},
			templates: []string{"served request <*> in <*>"},
			ids:       []int{0, 0, 0},
		},
		{
			name:      "a word varies",
			lines:     []string{"connected to db primary", "connected to db replica"},
			templates: []string{"connected to db <*>"},
			ids:       []int{0, 0},
		},
		{
			name:      "different shapes",
			lines:     []string{"ERROR timeout calling model", "INFO cache warm", "ERROR timeout calling tool", "INFO cache cold"},
			templates: []string{"ERROR timeout calling <*>", "INFO cache <*>"},
			ids:       []int{0, 1, 0, 1},
		},
		{
			name:      "too different to merge",
			lines:     []string{"worker started ok now", "queue drained fully today"},
			templates: []string{"worker started ok now", "queue drained fully today"},
			ids:       []int{0, 1},
		},
		{
			name:      "empty lines share one template",
			lines:     []string{"", "   "},
			templates: []string{""},
			ids:       []int{0, 0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMiner(Options{})
			var created []*Template
			for i, l := range tt.lines {
				tmpl, isNew := m.Add(l)
				if isNew {
					created = append(created, tmpl)
				}
				if got := slices.Index(created, tmpl); got != tt.ids[i] {
					t.Fatalf("line %q went to template %d, want %d", l, got, tt.ids[i])
				}
			}
			var texts []string
			for _, c := range created {
				texts = append(texts, c.Text())
			}
			if !slices.Equal(texts, tt.templates) {
				t.Fatalf("templates %q, want %q", texts, tt.templates)
			}
			if m.Len() != len(tt.templates) {
				t.Fatalf("Len %d, want %d", m.Len(), len(tt.templates))
			}
		})
	}
}

func TestMinerIDStable(t *testing.T) {
	a, _ := NewMiner(Options{}).Add("served request 1 in 12ms")
	b, _ := NewMiner(Options{}).Add("served request 99 in 3ms")
	if a.ID != b.ID || len(a.ID) != 16 {
		t.Fatalf("ids %q and %q: the same shape must get the same 16-digit id in any miner", a.ID, b.ID)
	}
	m := NewMiner(Options{})
	c, _ := m.Add("connected to db primary")
	id := c.ID
	m.Add("connected to db replica")
	if c.ID != id {
		t.Fatalf("id changed from %s to %s when the template generalised", id, c.ID)
	}
}

func TestMinerBound(t *testing.T) {
	m := NewMiner(Options{MaxTemplates: 2})
	for i := range 5 {
		m.Add(fmt.Sprintf("shape%c alpha beta", 'a'+i))
	}
	if m.Len() != 2 {
		t.Fatalf("Len %d, want the bound 2", m.Len())
	}
	tmpl, created := m.Add("something else entirely")
	if tmpl.ID != OverflowID || created {
		t.Fatalf("a new shape past the bound got %s (created %v), want %s", tmpl.ID, created, OverflowID)
	}
	if tmpl, _ := m.Add("shapea alpha beta"); tmpl.ID == OverflowID {
		t.Fatal("a known shape past the bound must still match its template")
	}
}

func TestBaseline(t *testing.T) {
	var b Baseline
	for range 50 {
		b = b.Update(10, 0.1)
	}
	if math.Abs(b.Mean-10) > 1e-9 || b.Variance > 1e-9 || b.Samples != 50 {
		t.Fatalf("steady baseline %+v, want mean 10, variance 0, 50 samples", b)
	}
	tests := []struct {
		name string
		b    Baseline
		x    float64
		min  int64
		want float64
	}{
		{"too few samples", Baseline{Mean: 1, Samples: 3}, 100, 10, 0},
		{"below the mean", b, 5, 10, 0},
		{"floor on a flat baseline", b, 10 + math.Sqrt(11)*3, 10, 3},
		{"variance above the floor", Baseline{Mean: 0, Variance: 100, Samples: 20}, 50, 10, 5},
	}
	for _, tt := range tests {
		if got := tt.b.Score(tt.x, tt.min); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("%s: Score = %g, want %g", tt.name, got, tt.want)
		}
	}
}

func FuzzMiner(f *testing.F) {
	for _, s := range []string{"", "ERROR timeout 12", "level=warn x=1", "\xff\x00 a", `{"level":"error"}`, strings.Repeat("a ", 70)} {
		f.Add(s, "served request 1 in 2ms")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		m := NewMiner(Options{MaxTemplates: 4})
		for _, l := range []string{a, b, a} {
			tmpl, _ := m.Add(l)
			text := tmpl.Text()
			if !utf8.ValidString(text) {
				t.Fatalf("template %q of %q is not UTF-8", text, l)
			}
			if tmpl.ID != OverflowID && len(tmpl.tokens) != len(Tokens(l)) {
				t.Fatalf("template %q has %d tokens, line %q has %d", text, len(tmpl.tokens), l, len(Tokens(l)))
			}
		}
		if again, created := m.Add(a); created {
			t.Fatalf("a line seen before created template %q", again.Text())
		}
		_ = LineLevel(a).String()
	})
}
