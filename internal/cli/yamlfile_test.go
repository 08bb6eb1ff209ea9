package cli

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

type inner struct {
	Port  int           `yaml:"port"`
	Grace time.Duration `yaml:"grace"`
}

type testFile struct {
	Name   *string            `yaml:"name"`
	TTL    *time.Duration     `yaml:"ttl"`
	Max    *int               `yaml:"max"`
	Min    *int               `yaml:"min"`
	On     *bool              `yaml:"on"`
	Tags   []string           `yaml:"tags"`
	Labels map[string]string  `yaml:"labels"`
	Inner  *inner             `yaml:"inner"`
	Rules  []inner            `yaml:"rules"`
	ByName map[string]inner   `yaml:"by_name"`
	Hidden string             `yaml:"-"`
	Ptrs   map[string]*inner  `yaml:"ptrs"`
	Floats map[string]float64 `yaml:"floats"`
}

func TestDecodeYAML(t *testing.T) {
	tests := []struct {
		desc    string
		yaml    string
		wantErr []string // every line of the error, in order
		check   func(t *testing.T, f testFile, lines Lines)
	}{
		{desc: "empty file", yaml: "", check: func(t *testing.T, f testFile, _ Lines) {
			if f.Name != nil {
				t.Fatal("empty file set a value")
			}
		}},
		{desc: "comments only", yaml: "# nothing\n", check: func(*testing.T, testFile, Lines) {}},
		{desc: "all kinds", yaml: "name: a\nttl: 5s\nmax: 3\non: true\ntags: [x, y]\nlabels: {k: v}\ninner:\n  port: 80\n  grace: 1s\nrules:\n  - {port: 1}\n  - {port: 2}\nby_name: {a: {port: 3}}\nptrs: {p: {port: 4}}\nfloats: {f: 1.5}\n",
			check: func(t *testing.T, f testFile, lines Lines) {
				if *f.Name != "a" || *f.TTL != 5*time.Second || *f.Max != 3 || !*f.On || len(f.Tags) != 2 || f.Labels["k"] != "v" ||
					f.Inner.Port != 80 || f.Inner.Grace != time.Second || f.Rules[1].Port != 2 || f.ByName["a"].Port != 3 || f.Ptrs["p"].Port != 4 || f.Floats["f"] != 1.5 {
					t.Fatalf("decoded %+v", f)
				}
				if lines["ttl"] != 2 || lines["inner.grace"] != 9 || lines["rules[1].port"] != 12 {
					t.Fatalf("lines %v", lines)
				}
			}},
		{desc: "unknown key", yaml: "name: a\nnmae: b\n", wantErr: []string{"f.yaml:2: nmae: unknown field; known fields are by_name, floats, inner, labels, max, min, name, on, ptrs, rules, tags, ttl"}},
		{desc: "ignored field is unknown", yaml: "Hidden: x\n", wantErr: []string{"f.yaml:1: Hidden: unknown field"}},
		{desc: "unknown nested key", yaml: "inner:\n  prot: 1\n", wantErr: []string{"f.yaml:2: inner.prot: unknown field; known fields are grace, port"}},
		{desc: "unknown key in a list item", yaml: "rules:\n  - port: 1\n  - {port: 2, grase: 1s}\n", wantErr: []string{"f.yaml:3: rules[1].grase: unknown field"}},
		{desc: "unknown key in a map value", yaml: "by_name:\n  a:\n    prt: 1\n", wantErr: []string{"f.yaml:3: by_name.a.prt: unknown field"}},
		{desc: "duplicate key", yaml: "name: a\nttl: 1s\nname: b\n", wantErr: []string{"f.yaml:3: name: set twice (first on line 1)"}},
		{desc: "no value", yaml: "ttl:\n", wantErr: []string{"f.yaml:1: ttl: has no value; give one or remove the key"}},
		{desc: "bad duration", yaml: "ttl: soon\n", wantErr: []string{`f.yaml:1: ttl: want a duration such as 30s, 5m or 1h30m, got "soon"`}},
		{desc: "number for a duration", yaml: "ttl: 5\n", wantErr: []string{`f.yaml:1: ttl: want a duration such as 30s, 5m or 1h30m, got "5"`}},
		{desc: "string for an int", yaml: "max: many\n", wantErr: []string{`f.yaml:1: max: want a whole number, got "many"`}},
		{desc: "float for an int", yaml: "max: 1.5\n", wantErr: []string{`f.yaml:1: max: want a whole number, got "1.5"`}},
		{desc: "bool", yaml: "on: maybe\n", wantErr: []string{`f.yaml:1: on: want true or false, got "maybe"`}},
		{desc: "list for a string", yaml: "name: [a]\n", wantErr: []string{"f.yaml:1: name: want a string, got a list"}},
		{desc: "scalar for a list", yaml: "tags: x\n", wantErr: []string{`f.yaml:1: tags: want a list of strings, got "x"`}},
		{desc: "scalar for a section", yaml: "inner: 5\n", wantErr: []string{`f.yaml:1: inner: want a mapping of settings, got a value "5"`}},
		{desc: "scalar for a list of sections", yaml: "rules: 5\n", wantErr: []string{`f.yaml:1: rules: want a list, got a value "5"`}},
		{desc: "list for a map of sections", yaml: "by_name: [1]\n", wantErr: []string{"f.yaml:1: by_name: want a mapping, got a list"}},
		{desc: "alias", yaml: "inner: &x {port: 1}\nrules: [*x]\n", wantErr: []string{"f.yaml:2: rules[0]: YAML aliases are not supported"}},
		{desc: "not a mapping", yaml: "- a\n", wantErr: []string{"f.yaml:1: the file must be a mapping of settings (key: value), not a list"}},
		{desc: "syntax error", yaml: "name: [a\n", wantErr: []string{"f.yaml: yaml: line 1"}},
		{desc: "every error reported", yaml: "ttl: soon\nmax: x\nnope: 1\n", wantErr: []string{"f.yaml:1: ttl:", "f.yaml:2: max:", "f.yaml:3: nope:"}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			var f testFile
			lines, err := DecodeYAML("f.yaml", []byte(tt.yaml), &f)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				tt.check(t, f, lines)
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", tt.wantErr)
			}
			got := strings.Split(err.Error(), "\n")
			if len(got) != len(tt.wantErr) {
				t.Fatalf("got %d errors %q, want %q", len(got), got, tt.wantErr)
			}
			for i, want := range tt.wantErr {
				if !strings.HasPrefix(got[i], want) {
					t.Errorf("error %d = %q, want prefix %q", i, got[i], want)
				}
			}
		})
	}
}

func TestCheckFields(t *testing.T) {
	check := func(f testFile) error {
		min, max := 1, 10
		if f.Min != nil {
			min = *f.Min
		}
		if f.Max != nil {
			max = *f.Max
		}
		var errs []error
		if min < 0 {
			errs = append(errs, fmt.Errorf("--min %d must not be negative", min))
		}
		if max > 100 {
			errs = append(errs, fmt.Errorf("--max %d must be at most 100", max))
		}
		if min > max {
			errs = append(errs, fmt.Errorf("--min %d must not exceed --max %d", min, max))
		}
		return errors.Join(errs...)
	}
	tests := []struct {
		yaml string
		want string
	}{
		{"min: 2\nmax: 5\n", ""},
		{"name: x\nmax: 500\n", "f.yaml:2: max: --max 500 must be at most 100"},
		{"min: -1\nname: x\nmax: 500\n", "f.yaml:1: min: --min -1 must not be negative\nf.yaml:3: max: --max 500 must be at most 100"},
		{"min: 5\nmax: 3\n", "f.yaml: --min 5 must not exceed --max 3"},
		{"max: 0\n", "f.yaml:1: max: --min 1 must not exceed --max 0"},
	}
	for _, tt := range tests {
		var f testFile
		lines, err := DecodeYAML("f.yaml", []byte(tt.yaml), &f)
		if err != nil {
			t.Fatal(err)
		}
		err = CheckFields("f.yaml", lines, f, check)
		if got := fmt.Sprint(err); (tt.want == "" && err != nil) || (tt.want != "" && got != tt.want) {
			t.Errorf("CheckFields(%q) = %v, want %q", tt.yaml, err, tt.want)
		}
	}
}
