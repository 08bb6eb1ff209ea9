package service

import (
	"strings"
	"testing"
)

func TestTail(t *testing.T) {
	tests := []struct {
		name   string
		size   int
		writes []string
		want   string
	}{
		{"empty", 8, nil, ""},
		{"short", 8, []string{"abc"}, "abc"},
		{"exactly full", 8, []string{"abcd", "efgh"}, "abcdefgh"},
		{"wraps", 8, []string{"abcdef", "ghij"}, "cdefghij"},
		{"wraps twice", 4, []string{"ab", "cd", "ef", "gh", "i"}, "fghi"},
		{"one big write", 4, []string{"abcdefghij"}, "ghij"},
		{"big write after small", 4, []string{"xy", "abcdef"}, "cdef"},
		{"drops a cut character", 3, []string{"ab", "é", "cd"}, "cd"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tl := newTail(tt.size)
			for _, w := range tt.writes {
				if n, err := tl.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write(%q) = %d, %v", w, n, err)
				}
			}
			if got := tl.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDescribeTail(t *testing.T) {
	if got := describeTail(""); got != "output tail: (empty)" {
		t.Errorf("describeTail(\"\") = %q", got)
	}
	if got := describeTail("boom\n"); !strings.HasSuffix(got, "\nboom\n") {
		t.Errorf("describeTail(\"boom\\n\") = %q", got)
	}
}
